"""The skills Brain ships with, registered when the scheduling app is ready.

A skill takes a task's params_json (a dict) and returns its text output, or raises: the scheduler
records the exception's traceback as the execution's error_text.
"""

import io
import time
from datetime import timedelta

from django.core.cache import cache
from django.core.management import call_command, get_commands
from django.db import connection
from django.utils import timezone

from events.models import Severity, SystemEvent

from .skills import skill

PURGE_BATCH_SIZE = 1000


def _positive_int(params, name, default):
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return value


def record_health_event(*, severity, message, details):
    """Writes the health check's SystemEvent.

    MERGE NOTE (lead): switch this body to
    `events.services.event_create(event_type="health_check", severity=severity, message=message,
    details=details, source="scheduler")` once the events branch is merged, so the write is
    validated and invalidates the events caches like every other path.
    """
    return SystemEvent.objects.create(
        event_type="health_check",
        severity=severity,
        message=message,
        details=details,
        source="scheduler",
    )


@skill(
    "system.health_check",
    description="Checks PostgreSQL and the cache and records the result as a health_check event.",
)
def health_check(params):
    checks = {}
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as error:  # a health check reports failures, it does not raise them
        checks["database"] = f"error: {error}"
    # The cache degrades to a miss when Redis is down, so a failed round trip reads as None.
    probe = f"scheduler-health-{time.monotonic_ns()}"
    cache.set(probe, "ok", 10)
    checks["cache"] = "ok" if cache.get(probe) == "ok" else "unavailable"
    cache.delete(probe)
    checks["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)

    if checks["database"] != "ok":
        severity, message = Severity.ERROR, "Health check: database unavailable"
    elif checks["cache"] != "ok":
        severity, message = Severity.WARNING, "Health check: cache unavailable"
    else:
        severity, message = Severity.INFO, "Health check: all services ok"
    event = record_health_event(severity=severity, message=message, details=checks)
    return f"{message} (event {event.pk}): database {checks['database']}, cache {checks['cache']}"


@skill(
    "events.purge",
    description="Deletes system events older than a number of days, in batches.",
    parameters={
        "older_than_days": {
            "type": "integer",
            "required": False,
            "default": 30,
            "description": "Events whose timestamp is older than this many days are deleted.",
        },
    },
)
def events_purge(params):
    days = _positive_int(params, "older_than_days", 30)
    cutoff = timezone.now() - timedelta(days=days)
    deleted = 0
    # Small batches, each its own transaction, so a large purge never holds long locks.
    while True:
        batch = list(
            SystemEvent.objects.filter(timestamp__lt=cutoff)
            .order_by("id")
            .values_list("id", flat=True)[:PURGE_BATCH_SIZE]
        )
        if not batch:
            break
        SystemEvent.objects.filter(id__in=batch).delete()
        deleted += len(batch)
    return f"Deleted {deleted} events older than {days} days (before {cutoff.isoformat()})."


@skill(
    "audit.purge",
    description="Deletes audit records older than a number of days (the purge_audit command).",
    parameters={
        "older_than_days": {
            "type": "integer",
            "required": False,
            "default": 365,
            "description": "Audit records older than this many days are deleted.",
        },
    },
)
def audit_purge(params):
    days = _positive_int(params, "older_than_days", 365)
    if "purge_audit" not in get_commands():
        raise RuntimeError(
            "audit.purge needs the purge_audit management command, which is not installed."
        )
    output = io.StringIO()
    call_command("purge_audit", older_than=days, stdout=output)
    return output.getvalue().strip() or f"Purged audit records older than {days} days."


@skill(
    "demo.echo",
    description="Returns its `message` parameter: a no-op for demonstrations and benchmarks.",
    parameters={
        "message": {
            "type": "string",
            "required": False,
            "default": "",
            "description": "The text to return.",
        },
    },
)
def echo(params):
    return str(params.get("message", ""))


@skill(
    "demo.sleep",
    description="Sleeps for `seconds`, then returns: for demonstrating timeouts and shutdown.",
    parameters={
        "seconds": {
            "type": "number",
            "required": False,
            "default": 1,
            "description": "How long to sleep, in seconds.",
        },
    },
)
def sleep(params):
    seconds = params.get("seconds", 1)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise ValueError(f"seconds must be a non-negative number; got {seconds!r}.")
    time.sleep(seconds)
    return f"Slept {seconds} s."


@skill(
    "demo.fail",
    description="Always raises, so a failed execution and its traceback can be seen.",
    parameters={
        "message": {
            "type": "string",
            "required": False,
            "default": "demo.fail always fails",
            "description": "The error message.",
        },
    },
)
def fail(params):
    raise RuntimeError(str(params.get("message", "demo.fail always fails")))
