"""What the audit-path tests compare: the records written after a mark, the origin each names,
and the values of a row as a record stores them."""

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Max

from audit.models import AuditLog

IP = "203.0.113.7"
USER_AGENT = "brain-paths-test/1.0"


def recorded_fields(model):
    """The attnames a record of `model` holds: every concrete field but the primary key and
    those its `audit_exclude` names, in the model's order (foreign keys as their raw ids,
    `task_id`)."""
    return [
        field.attname
        for field in model._meta.concrete_fields
        if not field.primary_key and field.attname not in model.audit_exclude
    ]


def encoded(value):
    """A value as a record stores it (DjangoJSONEncoder: ISO 8601 datetimes, milliseconds)."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def stored(instance):
    """Every recorded field of the row as the database holds it now, encoded."""
    model = type(instance)
    row = model.objects.get(pk=instance.pk)
    return {name: encoded(getattr(row, name)) for name in recorded_fields(model)}


def change(old, new):
    return {"old": encoded(old), "new": encoded(new)}


def change_of(before, instance, name):
    """{"old", "new"} of one field: its value in `before` (a stored() dict) and in the row now."""
    return {"old": before[name], "new": stored(instance)[name]}


def client_meta(request_id):
    """What the test client sends: its address, a User-Agent and an X-Request-ID of its own, which
    Brain does not take as the request's id."""
    return {"REMOTE_ADDR": IP, "HTTP_USER_AGENT": USER_AGENT, "HTTP_X_REQUEST_ID": request_id}


def from_request(user, response):
    """The origin of the records of the request answered by `response`: the user, the client's
    address and user agent, and the request id Brain gave it (the response's X-Request-ID)."""
    return (str(user.pk), IP, USER_AGENT, response["X-Request-ID"])


def from_system(actor):
    return (actor, None, "", "")


def audit_mark():
    """The id of the newest record: what the `when` step writes comes after it."""
    return AuditLog.objects.aggregate(last=Max("id"))["last"] or 0


def records_after(mark):
    """(operation, table, record id, changed_fields) of each record after `mark`, oldest first."""
    return [
        (log.operation, log.table_name, log.record_id, log.changed_fields)
        for log in AuditLog.objects.filter(id__gt=mark).order_by("id")
    ]


def origins_after(mark):
    """(user id, IP, user agent, request id) of each record after `mark`, oldest first."""
    return [
        (log.user_id, log.ip_address, log.user_agent, log.request_id)
        for log in AuditLog.objects.filter(id__gt=mark).order_by("id")
    ]
