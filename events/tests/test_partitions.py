"""system_events is partitioned by month: a write with no partition for its time lands in the
default partition, `partitions` creates the coming months', and the purge drops whole expired
partitions with one audit record each, the kept counts following."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from audit.models import AuditLog
from brain import partitions
from events import counts
from events.models import EventChange, SystemEvent
from events.partitions import event_partitions_drop
from events.selectors import event_stats_json
from events.services import event_update

from .factories import SystemEventFactory

pytestmark = pytest.mark.django_db


def partition_for(moment):
    """Creates the partition of system_events for `moment`'s month; returns its name."""
    with connection.cursor() as cursor:
        return partitions.partition_create(
            cursor, "system_events", "timestamp", "month", partitions.period_start("month", moment)
        )


def partition_names():
    with connection.cursor() as cursor:
        return {partition.name for partition in partitions.partitions(cursor, "system_events")}


def rows_in(table):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {table} ORDER BY id")
        return [row[0] for row in cursor.fetchall()]


def kept_counts():
    """The kept counts (events.counts) and the counts of the events themselves, per group."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT hour, severity, sum(count) FROM system_event_hour_counts "
            "GROUP BY 1, 2 HAVING sum(count) <> 0 ORDER BY 1, 2"
        )
        hours = cursor.fetchall()
        cursor.execute(
            "SELECT date_trunc('hour', timestamp, 'UTC'), severity, count(*) FROM system_events "
            "GROUP BY 1, 2 ORDER BY 1, 2"
        )
        real_hours = cursor.fetchall()
        cursor.execute(
            "SELECT event_type, source, month, sum(count) FROM system_event_type_source_counts "
            "GROUP BY 1, 2, 3 HAVING sum(count) <> 0 ORDER BY 1, 2, 3"
        )
        types = cursor.fetchall()
        cursor.execute(
            "SELECT event_type, source, date_trunc('month', timestamp, 'UTC'), count(*) "
            "FROM system_events GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        )
        real_types = cursor.fetchall()
    return (hours, types), (real_hours, real_types)


def test_an_event_for_a_month_with_no_partition_is_stored_and_found(api_client):
    moment = timezone.now() - timedelta(days=200)

    response = api_client.post(
        "/api/events",
        {
            "event_type": "backfill",
            "severity": "info",
            "message": "late",
            "timestamp": moment.isoformat(),
        },
        format="json",
    )

    assert response.status_code == 201
    event_id = response.json()["id"]
    assert rows_in("system_events_default") == [event_id]
    assert api_client.get(f"/api/events/{event_id}").json()["message"] == "late"


def test_creating_a_partition_moves_its_rows_out_of_the_default_partition(api_client):
    event = SystemEventFactory(timestamp=timezone.now() - timedelta(days=200))
    counts_before, _ = kept_counts()

    name = partition_for(event.timestamp)

    assert rows_in(name) == [event.pk]
    assert rows_in("system_events_default") == []
    counts, real = kept_counts()
    assert counts == counts_before == real
    assert api_client.get(f"/api/events/{event.pk}").json()["id"] == event.pk


def test_partitions_dry_run_lists_and_the_run_creates_the_coming_months():
    ahead = partitions.period_start("month", timezone.now())
    for _ in range(2):
        ahead = partitions.period_next("month", ahead)
    name = f"system_events_p{ahead:%Y%m}"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {name}")
    stdout = StringIO()

    call_command("partitions", "--dry-run", stdout=stdout)

    assert f"would create {name} [{ahead:%Y-%m-%d}, " in stdout.getvalue()
    assert name not in partition_names()

    stdout = StringIO()
    call_command("partitions", stdout=stdout)

    assert f"create {name} [{ahead:%Y-%m-%d}, " in stdout.getvalue()
    assert name in partition_names()
    assert "dropped" not in stdout.getvalue()  # no retention set: nothing dropped


def test_seeded_events_of_past_months_are_in_their_months_partitions():
    call_command("seed_events", "--count", "600", "--days", "70", verbosity=0, stdout=StringIO())

    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text, timestamp FROM system_events")
        rows = cursor.fetchall()
    assert len(rows) == 600
    assert [table for table, timestamp in rows] == [
        partitions.partition_name(
            "system_events", "month", partitions.period_start("month", timestamp)
        )
        for table, timestamp in rows
    ]
    # Seventy days reach into at least the two months before this one.
    assert len({table for table, _ in rows}) >= 3


def test_partitions_drops_what_is_past_the_retention(settings):
    settings.EVENT_RETENTION_DAYS = 90
    expired = partition_for(timezone.now() - timedelta(days=200))
    SystemEventFactory.create_batch(2, timestamp=timezone.now() - timedelta(days=200))
    kept = SystemEventFactory()

    stdout = StringIO()
    call_command("partitions", "--dry-run", stdout=stdout)
    assert f"would drop {expired} [" in stdout.getvalue()
    assert SystemEvent.objects.count() == 3

    stdout = StringIO()
    call_command("partitions", stdout=stdout)

    assert f"drop {expired} [" in stdout.getvalue()
    assert "dropped 2 rows of system_events older than 90 days" in stdout.getvalue()
    assert list(SystemEvent.objects.all()) == [kept]
    assert expired not in partition_names()


def test_the_scheduled_retention_keeps_a_partially_expired_month_whole(settings):
    settings.EVENT_RETENTION_DAYS = 90
    now = timezone.now()
    cutoff = now - timedelta(days=90)
    expired = partition_for(now - timedelta(days=200))
    partial = partition_for(cutoff)
    SystemEventFactory.create_batch(2, timestamp=now - timedelta(days=200))
    # Older than every partition: in the default partition, which is never dropped.
    straggler = SystemEventFactory(timestamp=now - timedelta(days=400))
    start = partitions.period_start("month", cutoff)
    past_retention = SystemEventFactory(timestamp=start + (cutoff - start) / 2)
    kept = SystemEventFactory()
    last_change = EventChange.objects.order_by("-id").values_list("id", flat=True).first() or 0
    stdout = StringIO()

    call_command("partitions", stdout=stdout)

    assert "dropped 3 rows of system_events older than 90 days" in stdout.getvalue()
    assert sorted(SystemEvent.objects.values_list("id", flat=True)) == [past_retention.pk, kept.pk]
    assert expired not in partition_names() and partial in partition_names()
    deletes = AuditLog.objects.filter(operation="DELETE", table_name="system_events")
    assert sorted(deletes.values_list("record_id", flat=True)) == sorted(
        [expired, str(straggler.pk)]
    )
    changes = EventChange.objects.filter(id__gt=last_change).order_by("id")
    assert list(changes.values_list("op", "event_count")) == [("purge", 1), ("delete", 1)]


def test_purge_drops_expired_partitions_trims_the_partial_one_and_keeps_the_counts(
    api_client, django_capture_on_commit_callbacks
):
    now = timezone.now()
    cutoff = now - timedelta(days=90)
    expired = partition_for(now - timedelta(days=200))
    partial = partition_for(cutoff)
    dropped = SystemEventFactory.create_batch(3, timestamp=now - timedelta(days=200))
    trimmed = SystemEventFactory.create_batch(2, timestamp=cutoff - timedelta(hours=1))
    kept = [
        SystemEventFactory(timestamp=cutoff + timedelta(hours=1), severity="error"),
        SystemEventFactory(),
    ]
    assert api_client.get(f"/api/events/{dropped[0].pk}").status_code == 200  # now cached
    last_change = EventChange.objects.order_by("-id").values_list("id", flat=True).first() or 0
    stdout = StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("purge_events", "--older-than", "90d", stdout=stdout, stderr=StringIO())

    assert stdout.getvalue().startswith("Deleted 5 events older than ")
    assert sorted(SystemEvent.objects.values_list("id", flat=True)) == [e.pk for e in kept]
    assert expired not in partition_names() and partial in partition_names()
    deletes = AuditLog.objects.filter(operation="DELETE", table_name="system_events")
    partition_record = deletes.get(record_id=expired)
    assert partition_record.changed_fields["rows"] == 3
    assert partition_record.user_id == "system:purge_events"
    assert sorted(deletes.exclude(record_id=expired).values_list("record_id", flat=True)) == sorted(
        str(event.pk) for event in trimmed
    )
    counts, real = kept_counts()
    assert counts == real
    stats = api_client.get("/api/events/stats").json()
    assert stats["total"] == 2
    assert api_client.get(f"/api/events/{dropped[0].pk}").status_code == 404
    # The live stream: one purge for the partition, the trimmed events as deletes.
    changes = EventChange.objects.filter(id__gt=last_change).order_by("id")
    assert list(changes.values_list("op", "event_count")) == [("purge", 1), ("delete", 2)]


def test_an_id_finds_its_event_in_any_partition(api_client):
    partition_for(timezone.now() - timedelta(days=40))
    events = [
        SystemEventFactory(timestamp=timezone.now() - timedelta(days=days)) for days in (0, 40, 300)
    ]

    for event in events:
        assert SystemEvent.objects.get(pk=event.pk) == event
        assert api_client.get(f"/api/events/{event.pk}").json()["id"] == event.pk


def test_an_update_moving_an_event_to_another_month_keeps_the_counts():
    event = SystemEventFactory()

    event_update(event=event, data={"timestamp": timezone.now() - timedelta(days=200)})

    assert rows_in("system_events_default") == [event.pk]
    assert AuditLog.objects.filter(operation="UPDATE", record_id=str(event.pk)).count() == 1
    counts, real = kept_counts()
    assert counts == real


def test_dropping_the_older_of_two_months_leaves_the_stats_of_the_events_left(api_client):
    now = timezone.now()
    older = partitions.period_start("month", now - timedelta(days=200)) + timedelta(days=3)
    dropped = partition_for(older)
    for event_type, source in [("deploy", "ci"), ("deploy", "ci"), ("backup", None)]:
        SystemEventFactory(event_type=event_type, source=source, timestamp=older)
    counts.fold()
    # Appended after the fold: the month's counts are in folded and unfolded rows.
    SystemEventFactory(event_type="login", source="web", timestamp=older + timedelta(hours=5))
    for event_type, source in [("login", "web"), ("login", None), ("deploy", "ci")]:
        SystemEventFactory(event_type=event_type, source=source, timestamp=now)

    assert event_partitions_drop(older_than=now - timedelta(days=90)) == 4

    assert dropped not in partition_names()
    counts_after, real = kept_counts()
    assert counts_after == real
    body = api_client.get("/api/events/stats").json()
    assert body["by_type"] == [
        {"event_type": "login", "count": 2},
        {"event_type": "deploy", "count": 1},
    ]
    assert body["top_sources"] == [{"source": "ci", "count": 1}, {"source": "web", "count": 1}]
    fresh = json.loads(event_stats_json(queryset=SystemEvent.objects.all()))
    for key in ("total", "by_severity", "by_type", "top_sources"):
        assert body[key] == fresh[key]


def test_an_event_moved_to_another_month_is_counted_there_when_its_old_month_is_dropped(
    api_client,
):
    now = timezone.now()
    first = partitions.period_start("month", now - timedelta(days=200)) + timedelta(days=3)
    second = partitions.period_next("month", partitions.period_start("month", first))
    dropped, kept = partition_for(first), partition_for(second)
    moved_out = SystemEventFactory(event_type="deploy", source="ci", timestamp=first)
    moved_in = SystemEventFactory(event_type="backup", source="cron", timestamp=second)
    SystemEventFactory(event_type="deploy", source="ci", timestamp=first)
    counts.fold()

    event_update(event=moved_out, data={"timestamp": second, "source": "cd"})
    SystemEvent.objects.filter(pk=moved_in.pk).update(timestamp=first + timedelta(days=1))
    assert event_partitions_drop(older_than=second) == 2

    assert dropped not in partition_names() and kept in partition_names()
    assert list(SystemEvent.objects.values_list("id", flat=True)) == [moved_out.pk]
    counts_after, real = kept_counts()
    assert counts_after == real
    body = api_client.get("/api/events/stats").json()
    assert body["total"] == 1
    assert body["by_type"] == [{"event_type": "deploy", "count": 1}]
    assert body["top_sources"] == [{"source": "cd", "count": 1}]
