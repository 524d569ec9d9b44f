"""Reads of the audit log."""

from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from .models import AuditCheckpoint, AuditLog

# What the user id of a record written outside requests starts with (`system:scheduler`).
SYSTEM_ACTOR_PREFIX = "system:"


def audit_log_list():
    """Every record, newest first (the timestamp index; id breaks ties)."""
    return AuditLog.objects.order_by("-timestamp", "-id")


def audit_checkpoint_list():
    """Every checkpoint, oldest first, without its locator."""
    return AuditCheckpoint.objects.defer("records").order_by("sequence")


def audit_checkpoint_records(checkpoint):
    """The records from the checkpoint's first position through its last, in sealed order
    ((xid, id), the position index). Those of a purged range are gone: none."""
    in_range = RawSQL(
        '("audit_logs"."xid", "audit_logs"."id") >= (%s::xid8, %s)'
        ' AND ("audit_logs"."xid", "audit_logs"."id") <= (%s::xid8, %s)',
        [
            str(checkpoint.first_xid),
            checkpoint.first_record_id,
            str(checkpoint.last_xid),
            checkpoint.last_record_id,
        ],
        output_field=BooleanField(),
    )
    return (
        AuditLog.objects.alias(in_range=in_range)
        .filter(in_range=True)
        .order_by(RawSQL('"audit_logs"."xid"', []).asc(), "id")
    )


def audit_system_actors(*, limit):
    """The distinct system actors (`system:import`, `system:scheduler`) that wrote records,
    sorted, at most `limit`. One query per actor, each a single descent of the (user_id,
    timestamp) index past the previous actor's records: never a scan of the log."""
    actors = []
    names = (
        AuditLog.objects.filter(
            # The bound lets the index start at the prefix under any collation.
            user_id__gte=SYSTEM_ACTOR_PREFIX,
            user_id__startswith=SYSTEM_ACTOR_PREFIX,
        )
        .order_by("user_id")
        .values_list("user_id", flat=True)
    )
    while len(actors) < limit:
        actor = (names.filter(user_id__gt=actors[-1]) if actors else names).first()
        if actor is None:
            break
        actors.append(actor)
    return actors
