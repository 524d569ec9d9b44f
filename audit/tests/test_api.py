"""GET /api/audit and /api/audit/{id}: staff only, read-only, filters, newest first."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditLog
from brain.api import pagination
from brain.context import audit_actor
from events.models import SystemEvent

from .factories import ScheduledTaskFactory, SystemEventFactory

pytestmark = pytest.mark.django_db


def _as_json(log):
    return {
        "id": log.id,
        "user_id": log.user_id,
        "timestamp": log.timestamp.isoformat().replace("+00:00", "Z"),
        "operation": log.operation,
        "table_name": log.table_name,
        "record_id": log.record_id,
        "changed_fields": log.changed_fields,
        "ip_address": log.ip_address,
        "user_agent": log.user_agent,
        "request_id": log.request_id,
    }


def test_anonymous_gets_401(anon_client):
    assert anon_client.get("/api/audit").status_code == 401


def test_non_staff_gets_403(api_client):
    SystemEventFactory()

    assert api_client.get("/api/audit").status_code == 403
    log = AuditLog.objects.get(table_name="system_events")
    assert api_client.get(f"/api/audit/{log.pk}").status_code == 403


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_writes_are_not_allowed(staff_client, method):
    SystemEventFactory()
    logs = list(AuditLog.objects.order_by("id"))
    log = logs[-1]

    assert getattr(staff_client, method)("/api/audit", {}).status_code == 405
    assert getattr(staff_client, method)(f"/api/audit/{log.pk}", {}).status_code == 405
    assert list(AuditLog.objects.order_by("id")) == logs


def test_list_is_newest_first_with_the_exact_body(staff_client, django_assert_num_queries):
    with audit_actor("system:seed"):
        event = SystemEventFactory(message="a")
    SystemEvent.objects.filter(pk=event.pk).update(message="b")
    # The staff user's token was made first: its record too.
    token, create, update = AuditLog.objects.order_by("id")

    # Token lookup is cached after the first request; then the read's statement timeout and the
    # page, which is the last: its rows are its count.
    staff_client.get("/api/audit")
    with django_assert_num_queries(2):
        response = staff_client.get("/api/audit")

    assert response.status_code == 200
    assert response.json() == {
        "count": 3,
        "next": None,
        "previous": None,
        "results": [_as_json(update), _as_json(create), _as_json(token)],
    }


def test_one_record_and_the_trailing_slash(staff_client):
    SystemEventFactory()
    log = AuditLog.objects.get(table_name="system_events")

    assert staff_client.get(f"/api/audit/{log.pk}").json() == _as_json(log)
    assert staff_client.get(f"/api/audit/{log.pk}/").json() == _as_json(log)
    assert staff_client.get("/api/audit/").status_code == 200


@pytest.mark.parametrize("missing", ["0", "999999999999999999", "abc", "1e3"])
def test_unknown_record_is_404(staff_client, missing):
    assert staff_client.get(f"/api/audit/{missing}").status_code == 404


def test_filters(staff_client, staff_user):
    event = SystemEventFactory()
    task = ScheduledTaskFactory()
    with audit_actor("system:scheduler"):
        SystemEvent.objects.filter(pk=event.pk).update(severity="error")
    SystemEvent.objects.filter(pk=event.pk).delete()

    def ids(**params):
        response = staff_client.get("/api/audit", params)
        assert response.status_code == 200
        results = response.json()["results"]
        return [(r["operation"], r["table_name"], r["record_id"]) for r in results]

    assert ids(table_name="scheduled_tasks") == [("CREATE", "scheduled_tasks", str(task.pk))]
    assert ids(table_name="system_events", record_id=str(event.pk)) == [
        ("DELETE", "system_events", str(event.pk)),
        ("UPDATE", "system_events", str(event.pk)),
        ("CREATE", "system_events", str(event.pk)),
    ]
    assert ids(user_id="system:scheduler") == [("UPDATE", "system_events", str(event.pk))]
    assert ids(operation="DELETE") == [("DELETE", "system_events", str(event.pk))]


def test_timestamp_range(staff_client):
    SystemEventFactory()
    log = AuditLog.objects.get(table_name="system_events")
    hour = timedelta(hours=1)

    def count(**params):
        return staff_client.get("/api/audit", {"table_name": "system_events", **params}).json()[
            "count"
        ]

    assert count(timestamp_after=(log.timestamp - hour).isoformat()) == 1
    assert count(timestamp_after=(log.timestamp + hour).isoformat()) == 0
    assert count(timestamp_before=(log.timestamp + hour).isoformat()) == 1
    assert count(timestamp_before=(log.timestamp - hour).isoformat()) == 0


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"operation": "PATCH"}, 400),
        ({"timestamp_after": "yesterday"}, 400),
        ({"timestamp_after": "0001-01-01T00:00:00+14:00"}, 400),
        ({"timestamp_before": "0503-02-26T23:57:29+17:46"}, 200),
        ({"limit": "x"}, 400),
    ],
)
def test_bad_filters(staff_client, params, status):
    assert staff_client.get("/api/audit", params).status_code == status


def test_count_past_the_exact_limit_is_the_planner_estimate(staff_client, monkeypatch):
    SystemEvent.objects.bulk_create(
        [SystemEvent(event_type="x", severity="info", message=str(n)) for n in range(30)]
    )
    monkeypatch.setattr(pagination, "EXACT_COUNT_LIMIT", 10)

    body = staff_client.get("/api/audit", {"limit": 5}).json()

    assert body["count"] >= 11
    assert len(body["results"]) == 5


def test_count_up_to_the_exact_limit_is_exact(staff_client, monkeypatch):
    SystemEvent.objects.bulk_create(
        [SystemEvent(event_type="x", severity="info", message=str(n)) for n in range(10)]
    )
    monkeypatch.setattr(pagination, "EXACT_COUNT_LIMIT", 10)

    params = {"limit": 5, "table_name": "system_events"}
    assert staff_client.get("/api/audit", params).json()["count"] == 10


def test_timestamps_are_recorded_at_write_time():
    before = timezone.now()
    SystemEventFactory()

    assert before <= AuditLog.objects.get().timestamp <= timezone.now()
