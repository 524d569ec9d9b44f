"""The skills Brain ships with, registered when the scheduling app is ready.

A skill takes a task's params_json (a dict) and returns its text output, or raises: the scheduler
records the exception's type and message as the execution's error_text (the traceback goes to the
log and to staff). The purges and the audit log's sealing and verification act beyond their
owner's rows: they need RUN_MAINTENANCE_SKILLS; the others are open to any active user.
"""

import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from audit.purge import audit_purge
from audit.sealing import audit_seal
from audit.verification import (
    audit_verification_latest,
    audit_verification_record,
    audit_verify,
)
from brain.durations import MAX_AGE_DAYS
from brain.health import check_cache, check_database
from brain.partitions import partitions_maintain
from brain.tokens import token_purge_expired
from events.models import Severity
from events.services import event_counts_fold, event_create, event_purge

from .skills import RUN_MAINTENANCE_SKILLS, skill


def _int_param(params, name, default, *, least=1):
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"{name} must be an integer of at least {least}; got {value!r}.")
    return value


@skill(
    "system.health_check",
    description="Checks PostgreSQL and the cache and records the result as a health_check event.",
    permission=None,
)
def health_check(params):
    started = time.perf_counter()
    database_ok, cache_ok = check_database(), check_cache()
    checks = {
        "database": "ok" if database_ok else "unreachable",
        "cache": "ok" if cache_ok else "unreachable",
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
    }
    if not database_ok:
        severity, message = Severity.ERROR, "Health check: database unavailable"
    elif not cache_ok:
        severity, message = Severity.WARNING, "Health check: cache unavailable"
    else:
        severity, message = Severity.INFO, "Health check: all services ok"
    event = event_create(
        event_type="health_check",
        severity=severity,
        message=message,
        details=checks,
        source="scheduler",
    )
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
            "minimum": 1,
            "maximum": MAX_AGE_DAYS,
        },
    },
    permission=RUN_MAINTENANCE_SKILLS,
)
def events_purge(params):
    days = _int_param(params, "older_than_days", 30)
    cutoff = timezone.now() - timedelta(days=days)
    deleted = event_purge(older_than=cutoff)
    return f"Deleted {deleted} events older than {days} days (before {cutoff.isoformat()})."


@skill(
    "events.fold_counts",
    description=(
        "Merges the event-count rows appended since the last fold into one row per group, so "
        "the statistics keep reading a few rows per group (as fold_event_counts does)."
    ),
    permission=RUN_MAINTENANCE_SKILLS,
)
def events_fold_counts(params):
    written = event_counts_fold()
    return f"Folded the event counts: {written} folded rows written."


@skill(
    "audit.purge",
    description=(
        "Deletes audit records older than a number of days, in batches (as purge_audit does)."
    ),
    parameters={
        "older_than_days": {
            "type": "integer",
            "required": False,
            "default": 365,
            "description": "Audit records older than this many days are deleted.",
            "minimum": 1,
            "maximum": MAX_AGE_DAYS,
        },
    },
    permission=RUN_MAINTENANCE_SKILLS,
)
def audit_purge_skill(params):
    days = _int_param(params, "older_than_days", 365)
    deleted = audit_purge(older_than=timedelta(days=days))
    return f"Deleted {deleted} audit records older than {days} days."


@skill(
    "tokens.purge",
    description=(
        "Deletes the API tokens expired for more than a number of days, in batches (as "
        "purge_tokens does); tokens that never expire are kept."
    ),
    parameters={
        "expired_for_days": {
            "type": "integer",
            "required": False,
            "default": 7,
            "description": (
                "Tokens that expired more than this many days ago are deleted (0: every expired "
                "token). Until then a client using one is told that it has expired."
            ),
            "minimum": 0,
            "maximum": MAX_AGE_DAYS,
        },
    },
    permission=RUN_MAINTENANCE_SKILLS,
)
def tokens_purge(params):
    days = _int_param(params, "expired_for_days", 7, least=0)
    cutoff = timezone.now() - timedelta(days=days)
    deleted = token_purge_expired(expired_before=cutoff)
    return f"Deleted {deleted} API tokens expired before {cutoff.isoformat()}."


@skill(
    "partitions.maintain",
    description=(
        "Creates the coming months' partitions of the events and audit tables and drops those "
        "past EVENT_RETENTION_DAYS and AUDIT_RETENTION_DAYS (as manage.py partitions does)."
    ),
    permission=RUN_MAINTENANCE_SKILLS,
)
def partitions_maintain_skill(params):
    lines = partitions_maintain()
    return "; ".join(lines) if lines else "Nothing to create or drop."


# The error event of a failed verification of the audit log.
AUDIT_VERIFICATION_FAILED = "audit_verification_failed"


@skill(
    "audit.seal",
    description=(
        "Seals the audit records committed since the last checkpoint into signed checkpoints "
        "(as seal_audit does)."
    ),
    permission=RUN_MAINTENANCE_SKILLS,
)
def audit_seal_skill(params):
    checkpoints = audit_seal()
    if not checkpoints:
        return "Nothing to seal."
    records = sum(checkpoint.record_count for checkpoint in checkpoints)
    return f"Sealed {records} audit records, through checkpoint {checkpoints[-1].sequence}."


@skill(
    "audit.verify",
    description=(
        "Verifies the audit log against its signed checkpoints (as verify_audit does) and keeps "
        "the outcome for the console; a failure fails the run and records an error event "
        "audit_verification_failed, once per new failure."
    ),
    permission=RUN_MAINTENANCE_SKILLS,
)
def audit_verify_skill(params):
    previous = audit_verification_latest()
    result = audit_verify()
    audit_verification_record(result)
    if result.ok:
        if result.through is None:
            return "No checkpoint yet."
        return (
            f"Verified {result.checkpoints} checkpoints and {result.records} records, through "
            f"checkpoint {result.through.sequence}."
        )
    message = f"Audit log verification failed: {result.failure}"
    if previous is None or previous.ok or previous.failure != result.failure:
        event_create(
            event_type=AUDIT_VERIFICATION_FAILED,
            severity=Severity.ERROR,
            message=message,
            details={
                "failure": result.failure,
                "verified_through": result.through.sequence if result.through else None,
            },
            source="audit",
        )
    raise RuntimeError(message)


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
    permission=None,
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
            "description": (
                "How long to sleep, in seconds; at most TASK_MAX_TIMEOUT_SECONDS, so a run that "
                "overran its timeout and was abandoned still ends within the longest timeout."
            ),
            "minimum": 0,
            "maximum": lambda: settings.TASK_MAX_TIMEOUT_SECONDS,
        },
    },
    permission=None,
)
def sleep(params):
    seconds = params.get("seconds", 1)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise ValueError(f"seconds must be a non-negative number; got {seconds!r}.")
    longest = settings.TASK_MAX_TIMEOUT_SECONDS
    if seconds > longest:
        raise ValueError(
            f"seconds must be at most {longest} (TASK_MAX_TIMEOUT_SECONDS); got {seconds!r}."
        )
    time.sleep(seconds)
    return f"Slept {seconds} s."


@skill(
    "demo.fail",
    description="Always raises, so a failed execution and its error can be seen.",
    parameters={
        "message": {
            "type": "string",
            "required": False,
            "default": "demo.fail always fails",
            "description": "The error message.",
        },
    },
    permission=None,
)
def fail(params):
    raise RuntimeError(str(params.get("message", "demo.fail always fails")))
