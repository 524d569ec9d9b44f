"""Reads of the audit log."""

from .models import AuditLog

# What the user id of a record written outside requests starts with (`system:scheduler`).
SYSTEM_ACTOR_PREFIX = "system:"


def audit_log_list():
    """Every record, newest first (the timestamp index; id breaks ties)."""
    return AuditLog.objects.order_by("-timestamp", "-id")


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
