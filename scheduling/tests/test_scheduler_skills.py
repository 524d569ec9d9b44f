"""The built-in skills, called as the scheduler calls them: function(params) -> text."""

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from audit.models import AuditCheckpoint, AuditLog, AuditVerification
from audit.tests.trail import seal_all, tamper
from brain import partitions
from events.models import EventHourCount, EventTypeSourceCount, Severity, SystemEvent
from events.selectors import event_stats
from scheduling.skills import Skill, get_skill, params_errors, skill

pytestmark = pytest.mark.django_db


def call(name, params=None):
    return get_skill(name).function(params or {})


def test_health_check_records_a_health_event():
    output = call("system.health_check")

    event = SystemEvent.objects.get()
    assert (event.event_type, event.source) == ("health_check", "scheduler")
    assert event.severity == Severity.INFO
    assert event.message == "Health check: all services ok"
    assert (event.details["database"], event.details["cache"]) == ("ok", "ok")
    assert output == f"Health check: all services ok (event {event.pk}): database ok, cache ok"


def test_events_purge_deletes_old_events_and_keeps_recent_ones():
    old = timezone.now() - timedelta(days=8)
    for number in range(5):
        SystemEvent.objects.create(
            event_type="x", severity="info", message=str(number), timestamp=old
        )
    recent = SystemEvent.objects.create(event_type="x", severity="info", message="recent")

    output = call("events.purge", {"older_than_days": 7})

    assert list(SystemEvent.objects.all()) == [recent]
    assert output.startswith("Deleted 5 events older than 7 days (before ")


def test_partitions_maintain_creates_the_coming_months_partitions():
    with connection.cursor() as cursor:
        ahead = partitions.partitions(cursor, "system_events")[-1]
        cursor.execute(f"DROP TABLE {ahead.name}")

    output = call("partitions.maintain")

    assert output == f"create {ahead.name} [{ahead.start:%Y-%m-%d}, {ahead.end:%Y-%m-%d})"
    with connection.cursor() as cursor:
        assert partitions.partitions(cursor, "system_events")[-1] == ahead


def test_partitions_maintain_drops_expired_months_whole_and_keeps_the_partial_one(settings):
    settings.EVENT_RETENTION_DAYS = 90
    now = timezone.now()
    cutoff = now - timedelta(days=90)
    partial_start = partitions.period_start("month", cutoff)
    with connection.cursor() as cursor:
        for moment in (now - timedelta(days=200), cutoff):
            start = partitions.period_start("month", moment)
            partitions.partition_create(cursor, "system_events", "timestamp", "month", start)
    expired = SystemEvent.objects.create(
        event_type="x", severity="info", message="expired", timestamp=now - timedelta(days=200)
    )
    past_retention = SystemEvent.objects.create(
        event_type="x",
        severity="info",
        message="partial",
        timestamp=partial_start + (cutoff - partial_start) / 2,
    )

    output = call("partitions.maintain")

    assert "dropped 1 rows of system_events older than 90 days" in output
    assert list(SystemEvent.objects.all()) == [past_retention]
    # One audit record for the dropped partition, none per event.
    deletes = AuditLog.objects.filter(operation="DELETE", table_name="system_events")
    assert [record.record_id for record in deletes] == [f"system_events_p{expired.timestamp:%Y%m}"]


def test_events_fold_counts_folds_the_event_counts_and_keeps_the_statistics():
    moment = timezone.now()
    for severity in ["info", "info", "error"]:
        SystemEvent.objects.create(
            event_type="deploy", severity=severity, message="m", timestamp=moment
        )
    stats = event_stats()
    assert EventHourCount.objects.filter(folded=False).count() == 3

    output = call("events.fold_counts")

    assert output == "Folded the event counts: 3 folded rows written."
    assert sorted(EventHourCount.objects.values_list("severity", "count", "folded")) == [
        ("error", 1, True),
        ("info", 2, True),
    ]
    assert list(EventTypeSourceCount.objects.values_list("event_type", "count", "folded")) == [
        ("deploy", 3, True)
    ]
    assert event_stats() == stats


@pytest.mark.parametrize("value", [0, -1, "7", 1.5, True])
def test_events_purge_refuses_a_bad_age(value):
    with pytest.raises(ValueError, match="older_than_days must be an integer of at least 1"):
        call("events.purge", {"older_than_days": value})


@pytest.mark.django_db(transaction=True)  # a purge deletes sealed records: committed ones
def test_audit_purge_deletes_old_audit_records_only():
    AuditLog.objects.create(  # a record written 100 days ago (the table only takes INSERTs)
        timestamp=timezone.now() - timedelta(days=100),
        operation="CREATE",
        table_name="system_events",
        record_id="1",
        changed_fields={"message": "old"},
    )
    seal_all()  # sealed apart from the new record: a purge removes whole checkpoints
    SystemEvent.objects.create(event_type="x", severity="info", message="new")

    output = call("audit.purge", {"older_than_days": 90})

    assert output == "Deleted 1 audit records older than 90 days."
    assert list(AuditLog.objects.values_list("operation", "changed_fields__message")) == [
        ("CREATE", "new")
    ]


@pytest.mark.django_db(transaction=True)  # sealing takes committed records
def test_audit_seal_seals_the_committed_records():
    SystemEvent.objects.create(event_type="x", severity="info", message="sealed")
    records = AuditLog.objects.count()

    output = call("audit.seal")

    assert output == f"Sealed {records} audit records, through checkpoint 1."
    assert call("audit.seal") == "Nothing to seal."
    assert AuditCheckpoint.objects.aggregate(Sum("record_count")) == {"record_count__sum": records}


@pytest.mark.django_db(transaction=True)
def test_audit_verify_keeps_its_outcome_and_records_one_error_event_per_new_failure():
    SystemEvent.objects.create(event_type="x", severity="info", message="sealed")
    seal_all()

    assert call("audit.verify") == "Verified 1 checkpoints and 1 records, through checkpoint 1."
    assert AuditVerification.objects.get().ok
    record = AuditLog.objects.get().pk
    tamper("UPDATE audit_logs SET user_agent = 'forged' WHERE id = %s", [record])

    failure = f"record {record} (checkpoint 1): changed after it was sealed"
    for _ in range(2):
        with pytest.raises(RuntimeError, match=re.escape(failure)):
            call("audit.verify")

    kept = AuditVerification.objects.get()
    assert (kept.ok, kept.failure) == (False, failure)
    assert list(
        SystemEvent.objects.filter(event_type="audit_verification_failed").values_list(
            "severity", "message", "details", "source"
        )
    ) == [
        (
            "error",
            f"Audit log verification failed: {failure}",
            {"failure": failure, "verified_through": None},
            "audit",
        )
    ]


def test_demo_skills():
    assert call("demo.echo", {"message": "hi"}) == "hi"
    assert call("demo.sleep", {"seconds": 0}) == "Slept 0 s."
    with pytest.raises(RuntimeError, match="boom"):
        call("demo.fail", {"message": "boom"})
    with pytest.raises(ValueError, match="seconds must be a non-negative number"):
        call("demo.sleep", {"seconds": "forever"})


def test_a_skill_name_registers_once():
    with pytest.raises(ImproperlyConfigured, match="already registered"):
        skill("demo.echo")(lambda params: "")


def test_params_are_checked_against_the_skills_declared_parameters():
    declared = Skill(
        name="demo.report",
        function=lambda params: "",
        parameters={
            "days": {"type": "integer", "required": True},
            "ratio": {"type": "number"},
            "verbose": {"type": "boolean"},
        },
    )

    assert params_errors(declared, {"days": 3, "ratio": 2, "verbose": False}) == []
    assert params_errors(declared, {"ratio": True, "verbose": 1, "day": 3}) == [
        "demo.report has no parameter 'day'; it takes days, ratio, verbose.",
        "demo.report requires the parameter 'days'.",
        "'ratio' must be a number; got True.",
        "'verbose' must be a boolean; got 1.",
    ]
    assert params_errors(declared, {"days": 1.5}) == ["'days' must be an integer; got 1.5."]
