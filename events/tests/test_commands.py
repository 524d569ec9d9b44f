import subprocess
import sys
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db.models import Count
from django.utils import timezone

from audit.models import AuditLog
from brain.durations import parse_age
from events.models import SystemEvent
from tests.support import server_environment

from .factories import SystemEventFactory
from .test_progress import Terminal

pytestmark = pytest.mark.django_db


def test_seed_events_creates_a_realistic_mix(django_capture_on_commit_callbacks):
    stdout, stderr = StringIO(), Terminal()

    call_command(
        "seed_events",
        "--count",
        "2500",
        "--batch-size",
        "1000",
        "--seed",
        "7",
        stdout=stdout,
        stderr=stderr,
    )

    assert stdout.getvalue() == "Created 2500 events.\n"
    assert "2500/2500" in stderr.getvalue()  # the progress bar
    assert SystemEvent.objects.count() == 2500
    severities = dict(SystemEvent.objects.values_list("severity").annotate(n=Count("id")))
    assert set(severities) == {"info", "warning", "error", "critical"}
    assert severities["info"] > severities["warning"] > severities["error"] > severities["critical"]
    assert SystemEvent.objects.values("event_type").distinct().count() == 10
    assert SystemEvent.objects.values("source").distinct().count() == 20
    oldest = SystemEvent.objects.order_by("timestamp").first().timestamp
    assert datetime.now(UTC) - timedelta(days=30) <= oldest < datetime.now(UTC) - timedelta(days=28)
    assert all(
        set(details) == {"duration_ms", "host", "attempt"}
        for details in SystemEvent.objects.values_list("details", flat=True)[:50]
    )


def test_seed_events_is_repeatable_with_a_seed():
    call_command("seed_events", "--count", "20", "--seed", "3", verbosity=0, stdout=StringIO())
    first = list(
        SystemEvent.objects.order_by("id").values_list("event_type", "severity", "message")
    )
    SystemEvent.objects.all().delete()

    call_command("seed_events", "--count", "20", "--seed", "3", verbosity=0, stdout=StringIO())

    assert (
        list(SystemEvent.objects.order_by("id").values_list("event_type", "severity", "message"))
        == first
    )


@pytest.mark.django_db(transaction=True)
def test_seed_events_loads_batches_in_parallel_processes_with_the_same_events(keep_partitions):
    def loaded():
        return sorted(SystemEvent.objects.values_list("event_type", "severity", "message"))

    call_command(
        "seed_events", count=300, batch_size=70, seed=5, jobs=1, verbosity=0, stdout=StringIO()
    )
    sequential = loaded()
    SystemEvent.objects.all().delete()
    mark = AuditLog.objects.order_by("-id").values_list("id", flat=True).first()

    call_command(
        "seed_events", count=300, batch_size=70, seed=5, jobs=2, verbosity=0, stdout=StringIO()
    )

    assert loaded() == sequential
    records = AuditLog.objects.filter(id__gt=mark, operation="CREATE")
    assert records.count() == 300
    assert set(records.values_list("user_id", flat=True)) == {"system:seed_events"}
    assert set(records.values_list("record_id", flat=True)) == {
        str(pk) for pk in SystemEvent.objects.values_list("id", flat=True)
    }


def test_seed_events_refuses_a_negative_count():
    with pytest.raises(CommandError, match="--count must be >= 0"):
        call_command("seed_events", "--count", "-1")


def test_seed_events_refuses_a_count_above_its_maximum_at_once_and_creates_nothing():
    # In a process of its own: a command that set out to build the batches of such a count
    # would run, and grow, until killed.
    result = subprocess.run(
        [sys.executable, "manage.py", "seed_events", "--count", "99999999999999999999"],
        cwd=settings.BASE_DIR,
        env=server_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert result.stderr == (
        "CommandError: --count must be at most 100,000,000; got 99,999,999,999,999,999,999.\n"
    )
    assert not SystemEvent.objects.exists()


@pytest.mark.parametrize("days", ["366", "99999999999"])
def test_seed_events_refuses_days_beyond_the_age_an_event_may_have_and_writes_nothing(days):
    with pytest.raises(CommandError) as raised:
        call_command("seed_events", "--count", "1", "--days", days, "--jobs", "1")

    assert str(raised.value) == (
        "--days must be at most 365 (EVENT_TIME_MAX_AGE_DAYS: the age an event may have)."
    )
    assert not SystemEvent.objects.exists()


def test_seed_events_refuses_more_jobs_than_it_may_start():
    with pytest.raises(CommandError) as raised:
        call_command("seed_events", "--count", "2", "--batch-size", "1", "--jobs", "33")

    assert str(raised.value) == "--jobs must be at most 32."
    assert not SystemEvent.objects.exists()


def test_purge_events_deletes_what_is_older(django_capture_on_commit_callbacks):
    now = datetime.now(UTC)
    SystemEventFactory.create_batch(3, timestamp=now - timedelta(days=91))
    kept = SystemEventFactory(timestamp=now - timedelta(days=89))
    stdout = StringIO()

    call_command(
        "purge_events", "--older-than", "90d", "--batch-size", "2", stdout=stdout, stderr=StringIO()
    )

    assert stdout.getvalue().startswith("Deleted 3 events older than ")
    assert list(SystemEvent.objects.all()) == [kept]


def test_purge_events_dry_run_counts_and_deletes_nothing():
    SystemEventFactory.create_batch(2, timestamp=datetime.now(UTC) - timedelta(days=91))
    SystemEventFactory()
    stdout = StringIO()

    call_command("purge_events", "--older-than", "90d", "--dry-run", stdout=stdout)

    assert stdout.getvalue().startswith("Would delete 2 events older than ")
    assert SystemEvent.objects.count() == 3
    assert not AuditLog.objects.filter(operation="DELETE").exists()


def test_purge_events_deletes_a_full_batch_and_records_every_row():
    # The default batch of 10,000 rows, all recorded (with server_side_binding, more records than
    # PostgreSQL binds in one statement).
    old = datetime.now(UTC) - timedelta(days=91)
    SystemEvent.objects.bulk_create(
        SystemEvent(event_type="health_check", severity="info", message="ok", timestamp=old)
        for _ in range(10_000)
    )

    call_command("purge_events", "--older-than", "90d", stdout=StringIO(), stderr=StringIO())

    assert not SystemEvent.objects.exists()
    assert AuditLog.objects.filter(operation="DELETE", table_name="system_events").count() == 10_000


@pytest.mark.parametrize(
    ("text", "age"),
    [("90d", timedelta(days=90)), ("12h", timedelta(hours=12)), ("30m", timedelta(minutes=30))],
)
def test_ages(text, age):
    assert parse_age(text) == age


@pytest.mark.parametrize("text", ["90", "d", "-1d", "1w", "1.5d"])
def test_purge_events_refuses_a_bad_age(text):
    with pytest.raises(CommandError, match="is not an age like 90d"):
        call_command("purge_events", f"--older-than={text}")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--older-than", "0d"],
            "'0d' is zero: give an age of more than zero, like 90d, 12h or 30m",
        ),
        (["--older-than", "999999999d"], "'999999999d' is longer than the longest age, 36500d"),
        (
            ["--older-than", "1m", "--batch-size", "99999999999999999999"],
            "--batch-size must be from 1 to 1,000,000.",
        ),
    ],
)
def test_purge_events_refuses_an_argument_beyond_its_bounds_and_deletes_nothing(arguments, message):
    event = SystemEventFactory(timestamp=timezone.now() - timedelta(minutes=1))

    with pytest.raises(CommandError) as raised:
        call_command("purge_events", *arguments, stderr=StringIO())

    assert str(raised.value) == message
    assert list(SystemEvent.objects.values_list("pk", flat=True)) == [event.pk]


def test_seed_events_are_in_time_order():
    call_command(
        "seed_events", "--count", "300", "--batch-size", "70", verbosity=0, stdout=StringIO()
    )

    timestamps = list(SystemEvent.objects.order_by("id").values_list("timestamp", flat=True))
    assert timestamps == sorted(timestamps)
