"""The progress bars of the bulk commands have a total and move in small steps; seeding commits
one transaction per batch."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from audit.models import AuditLog
from audit.tests.trail import seal_all
from events.management.commands.seed_events import batch_size_for
from events.models import SystemEvent

from .factories import SystemEventFactory

pytestmark = pytest.mark.django_db


class Terminal(StringIO):
    """Standard error as a terminal, where a command draws its progress bar."""

    def isatty(self):
        return True


@pytest.mark.parametrize(
    ("count", "requested", "size"),
    [
        (100_000, None, 1_000),  # 100 steps of 1 %
        (2_000_000, None, 20_000),
        (10_000_000, None, 50_000),
        (500, None, 1_000),
        (100_000, 70, 70),
    ],
)
def test_seed_batches_are_a_hundredth_of_the_count(count, requested, size):
    assert batch_size_for(count, requested) == size


def test_seed_commits_one_transaction_per_batch(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as committed:
        call_command(
            "seed_events",
            "--count",
            "2500",
            "--batch-size",
            "1000",
            "--jobs",
            "1",
            verbosity=0,
            stdout=StringIO(),
        )

    assert SystemEvent.objects.count() == 2500
    assert len(committed) == 3  # one invalidation per transaction: 1000, 1000, 500


def test_seed_events_draws_no_bar_where_standard_error_is_no_terminal():
    stdout, stderr = StringIO(), StringIO()

    call_command("seed_events", "--count", "10", "--jobs", "1", stdout=stdout, stderr=stderr)

    assert stdout.getvalue() == "Created 10 events.\n"
    assert stderr.getvalue() == ""


def test_purge_events_shows_a_bar_with_a_total():
    old = datetime.now(UTC) - timedelta(days=91)
    SystemEventFactory.create_batch(3, timestamp=old)
    stderr = Terminal()

    call_command(
        "purge_events",
        "--older-than",
        "90d",
        "--batch-size",
        "2",
        stdout=StringIO(),
        stderr=stderr,
    )

    assert "3/3" in stderr.getvalue()


@pytest.mark.django_db(transaction=True)  # a purge deletes sealed records: committed ones
def test_purge_audit_shows_a_bar_with_a_total():
    with connection.cursor() as cursor:
        # Records a year old, as retention finds them (the trigger refuses UPDATE: insert them).
        cursor.execute(
            "INSERT INTO audit_logs (user_id, timestamp, changed_fields, operation, table_name,"
            " record_id, ip_address, user_agent, request_id)"
            " SELECT NULL, now() - interval '400 days', '{}', 'CREATE', 'system_events', n::text,"
            " NULL, '', '' FROM generate_series(1, 2) AS n"
        )
    seal_all()  # sealed apart from the recent records: a purge removes whole checkpoints
    SystemEventFactory.create_batch(2)
    stderr = Terminal()

    call_command("purge_audit", "--older-than", "365d", stdout=StringIO(), stderr=stderr)

    assert "2/2" in stderr.getvalue()
    assert AuditLog.objects.count() == 2
