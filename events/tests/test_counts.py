import io
import json
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from events import counts
from events.models import EventHourCount, EventTypeSourceCount, SystemEvent
from events.selectors import event_series, event_stats
from events.services import (
    event_create,
    event_delete,
    event_ingest,
    event_purge,
    event_update,
)

from .factories import SystemEventFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 22, 10, 30, tzinfo=UTC)


def counted_from_events():
    """The counts per hour and severity and per type, source and month, from the events
    themselves."""
    rows = SystemEvent.objects.values_list("timestamp", "severity", "event_type", "source")
    hours = Counter(
        (timestamp.astimezone(UTC).replace(minute=0, second=0, microsecond=0), severity)
        for timestamp, severity, _, _ in rows
    )
    kinds = Counter(
        (
            event_type,
            source,
            timestamp.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0),
        )
        for timestamp, _, event_type, source in rows
    )
    return hours, kinds


def kept_counts():
    """The counts the database keeps: each group's sum, groups summing to zero left out."""
    hours = EventHourCount.objects.values_list("hour", "severity").annotate(n=Sum("count"))
    kinds = EventTypeSourceCount.objects.values_list("event_type", "source", "month").annotate(
        n=Sum("count")
    )
    return (
        Counter({(hour, severity): n for hour, severity, n in hours if n}),
        Counter({(event_type, source, month): n for event_type, source, month, n in kinds if n}),
    )


def count_rows():
    """Every row of both count tables, as stored."""
    return (
        sorted(EventHourCount.objects.values_list("id", "hour", "severity", "count", "folded")),
        sorted(
            EventTypeSourceCount.objects.values_list(
                "id", "event_type", "source", "month", "count", "folded"
            )
        ),
    )


def unfolded_rows():
    return (
        EventHourCount.objects.filter(folded=False).count()
        + EventTypeSourceCount.objects.filter(folded=False).count()
    )


def assert_counts_exact():
    every_event = SystemEvent.objects.all()
    assert kept_counts() == counted_from_events()
    assert event_stats(now=NOW) == event_stats(queryset=every_event, now=NOW)
    assert event_series(now=NOW) == event_series(queryset=every_event, now=NOW)


@pytest.fixture
def events():
    return [
        SystemEventFactory(
            event_type=event_type, severity=severity, source=source, timestamp=NOW - age
        )
        for event_type, severity, source, age in [
            ("deploy", "info", "ci", timedelta(minutes=5)),
            ("deploy", "error", "ci", timedelta(hours=2)),
            ("backup", "critical", None, timedelta(days=3)),
            ("health_check", "info", "api-1", timedelta(days=40)),
        ]
    ]


def test_creates_updates_and_deletes_keep_the_counts_exact(events):
    assert_counts_exact()

    event_create(event_type="login", severity="warning", message="m", source="web", timestamp=NOW)
    assert_counts_exact()

    event_update(
        event=events[0],
        data={"severity": "critical", "event_type": "rollback", "source": None},
    )
    assert_counts_exact()

    event_update(event=events[1], data={"timestamp": NOW - timedelta(days=9)})
    assert_counts_exact()

    event_update(event=events[2], data={"message": "only the message"})
    assert_counts_exact()

    event_delete(event=events[3])
    assert_counts_exact()


def test_queryset_updates_and_deletes_keep_the_counts_exact(events):
    SystemEvent.objects.filter(event_type="deploy").update(severity="warning", source="cd")
    assert_counts_exact()

    SystemEvent.objects.filter(severity="warning").delete()
    assert_counts_exact()


def test_copy_ingest_keeps_the_counts_exact(events):
    event_ingest(
        events=[
            {"event_type": event_type, "severity": severity, "message": "m", "details": None}
            | {"source": source, "timestamp": timestamp}
            for event_type, severity, source, timestamp in [
                ("deploy", "info", None, NOW),
                ("scan", "error", "ci", None),
                ("scan", "error", "ci", NOW - timedelta(days=1)),
            ]
        ]
    )
    assert_counts_exact()


def test_import_purge_and_fixtures_keep_the_counts_exact(events, tmp_path):
    lines = [
        {"event_type": "import", "severity": "info", "message": "m", "timestamp": NOW.isoformat()},
        {"event_type": "import", "severity": "warning", "message": "m", "source": "batch"},
    ]
    imported = tmp_path / "events.ndjson"
    imported.write_text("".join(json.dumps(line) + "\n" for line in lines))
    call_command("import_events", str(imported), stdout=io.StringIO(), stderr=io.StringIO())
    assert_counts_exact()

    event_purge(older_than=NOW - timedelta(days=30))
    assert_counts_exact()

    fixture = tmp_path / "events.json"
    fixture.write_text(
        json.dumps(
            [
                {
                    "model": "events.systemevent",
                    "pk": events[0].pk,
                    "fields": {
                        "event_type": "fixture",
                        "severity": "error",
                        "message": "m",
                        "source": "fixtures",
                        "timestamp": NOW.isoformat(),
                        "created_at": NOW.isoformat(),
                    },
                }
            ]
        )
    )
    call_command("loaddata", str(fixture), verbosity=0)
    assert_counts_exact()


def test_sql_outside_the_orm_keeps_the_counts_exact(events):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE system_events SET source = NULL WHERE event_type = 'deploy'")
        cursor.execute("DELETE FROM system_events WHERE severity = 'critical'")
    assert_counts_exact()

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE system_events")
    assert kept_counts() == (Counter(), Counter())
    assert event_stats(now=NOW)["total"] == 0


def test_a_rolled_back_write_leaves_the_counts_as_they_were(events):
    before = kept_counts()

    with pytest.raises(RuntimeError), transaction.atomic():
        event_create(event_type="lost", severity="error", message="m")
        SystemEvent.objects.filter(event_type="deploy").delete()
        raise RuntimeError

    assert kept_counts() == before


def test_stats_and_series_sum_unfolded_rows_as_a_fold_leaves_them(events):
    for _ in range(3):
        event_create(event_type="deploy", severity="info", message="m", source="ci", timestamp=NOW)
    event_update(event=events[0], data={"severity": "warning"})
    event_delete(event=events[2])
    every_event = SystemEvent.objects.all()
    assert unfolded_rows() > 0

    stats, series = event_stats(now=NOW), event_series(now=NOW)

    assert stats == event_stats(queryset=every_event, now=NOW)
    assert series == event_series(queryset=every_event, now=NOW)
    assert stats["total"] == 6
    counts.fold()
    assert unfolded_rows() == 0
    assert event_stats(now=NOW) == stats
    assert event_series(now=NOW) == series


def test_the_statistics_and_the_series_write_nothing(events):
    event_create(event_type="deploy", severity="info", message="m", source="ci", timestamp=NOW)
    before = count_rows()
    assert unfolded_rows() > 0

    with CaptureQueriesContext(connection) as queries:
        event_stats(now=NOW)
        event_series(now=NOW)

    assert [query["sql"] for query in queries if not query["sql"].startswith("SELECT")] == []
    assert count_rows() == before


def test_fold_leaves_one_row_per_group_and_none_for_an_emptied_group(events):
    for _ in range(3):
        event_create(event_type="deploy", severity="info", message="m", source="ci", timestamp=NOW)
    event_delete(event=events[2])

    written = counts.fold()

    assert kept_counts() == counted_from_events()
    assert written == EventHourCount.objects.count() + EventTypeSourceCount.objects.count() == 5
    hour_rows = list(EventHourCount.objects.values_list("hour", "severity", "count", "folded"))
    assert sorted(hour_rows) == sorted(
        (hour, severity, n, True) for (hour, severity), n in counted_from_events()[0].items()
    )
    kind_rows = list(EventTypeSourceCount.objects.values_list("event_type", "source", "folded"))
    assert len(kind_rows) == len(counted_from_events()[1])
    assert all(folded for *_, folded in kind_rows)
    assert not EventTypeSourceCount.objects.filter(event_type="backup").exists()


def test_series_sums_the_kept_counts_per_hour_and_day(events):
    series = event_series(now=NOW)

    assert series["per_hour"][-1] == {
        "start": NOW.replace(minute=0),
        "counts": {"info": 1, "warning": 0, "error": 0, "critical": 0},
    }
    assert series["per_hour"][-3]["counts"]["error"] == 1
    assert series["per_day"][-1]["counts"] == {"info": 1, "warning": 0, "error": 1, "critical": 0}
    assert series["per_day"][-4]["counts"]["critical"] == 1
    assert sum(sum(day["counts"].values()) for day in series["per_day"]) == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_and_folds_keep_the_counts_exact():
    errors = []

    def write(worker):
        try:
            for n in range(40):
                event = event_create(
                    event_type=f"type-{n % 3}",
                    severity=["info", "error"][worker % 2],
                    message="m",
                    source=f"worker-{worker}",
                    timestamp=NOW - timedelta(hours=n % 5),
                )
                if n % 4 == 0:
                    event_update(event=event, data={"severity": "warning"})
                if n % 7 == 0:
                    event_delete(event=event)
        except Exception as error:  # reported below: a thread's exception would be lost
            errors.append(error)
        finally:
            connection.close()

    def fold(stop):
        try:
            while not stop.is_set():
                counts.fold()
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    stop = threading.Event()
    folders = [threading.Thread(target=fold, args=(stop,)) for _ in range(2)]
    writers = [threading.Thread(target=write, args=(worker,)) for worker in range(4)]
    for thread in folders + writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in folders:
        thread.join()

    assert errors == []
    assert SystemEvent.objects.count() == 4 * (40 - 6)
    assert_counts_exact()
    counts.fold()
    assert kept_counts() == counted_from_events()


@pytest.mark.django_db(transaction=True)
def test_the_migration_counts_the_events_already_stored(keep_partitions):
    executor = MigrationExecutor(connection)
    executor.migrate([("events", "0001_initial")])
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO system_events (event_type, severity, message, source, timestamp)"
                " VALUES ('deploy', 'info', 'm', 'ci', %s), ('deploy', 'error', 'm', NULL, %s)",
                [NOW, NOW - timedelta(days=2)],
            )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    assert kept_counts() == counted_from_events()
    assert EventHourCount.objects.filter(folded=False).count() == 0
    assert event_stats(now=NOW)["by_severity"] == {
        "info": 1,
        "warning": 0,
        "error": 1,
        "critical": 0,
    }


@pytest.mark.django_db(transaction=True)
def test_the_month_migration_counts_the_stored_events_per_type_source_and_month():
    def grouped(sql):
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return sorted(cursor.fetchall(), key=repr)

    executor = MigrationExecutor(connection)
    executor.migrate([("events", "0007_partition_by_time")])
    try:
        # Counts kept without a month: rows appended by inserts, an update and a delete.
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO system_events (event_type, severity, message, source, timestamp)"
                " VALUES ('deploy', 'info', 'm', 'ci', %s), ('deploy', 'info', 'm', 'ci', %s),"
                " ('deploy', 'error', 'm', 'ci', %s), ('backup', 'info', 'm', NULL, %s),"
                " ('backup', 'info', 'm', NULL, %s), ('login', 'info', 'm', 'web', %s)",
                [NOW - timedelta(days=days) for days in (0, 40, 70, 1, 40, 0)],
            )
            cursor.execute("UPDATE system_events SET source = 'cd' WHERE severity = 'error'")
            cursor.execute("DELETE FROM system_events WHERE event_type = 'login'")
        assert grouped(
            "SELECT event_type, source, sum(count) FROM system_event_type_source_counts "
            "GROUP BY 1, 2 HAVING sum(count) <> 0"
        ) == grouped("SELECT event_type, source, count(*) FROM system_events GROUP BY 1, 2")
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    # One folded row per type, source and month: the events grouped by them.
    assert grouped(
        "SELECT event_type, source, month, count FROM system_event_type_source_counts"
    ) == grouped(
        "SELECT event_type, source, date_trunc('month', timestamp, 'UTC'), count(*) "
        "FROM system_events GROUP BY 1, 2, 3"
    )
    assert not EventTypeSourceCount.objects.filter(folded=False).exists()
    assert kept_counts() == counted_from_events()
    # The triggers count by month from then on.
    event_update(event=SystemEvent.objects.get(source="cd"), data={"timestamp": NOW})
    assert_counts_exact()
    assert event_stats(now=NOW)["by_type"] == [
        {"event_type": "deploy", "count": 3},
        {"event_type": "backup", "count": 2},
    ]

    # Reversed, the counts per type and source are whole again, without the month.
    executor = MigrationExecutor(connection)
    executor.migrate([("events", "0007_partition_by_time")])
    try:
        assert grouped(
            "SELECT event_type, source, count FROM system_event_type_source_counts"
        ) == grouped("SELECT event_type, source, count(*) FROM system_events GROUP BY 1, 2")
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_a_purge_folds_the_counts(events):
    event_create(event_type="deploy", severity="info", message="m", source="ci", timestamp=NOW)

    event_purge(older_than=NOW - timedelta(days=30))

    assert not EventHourCount.objects.filter(folded=False).exists()
    assert not EventTypeSourceCount.objects.filter(folded=False).exists()
    assert kept_counts() == counted_from_events()


def test_fold_event_counts_folds_and_says_so(events):
    event_create(event_type="deploy", severity="info", message="m", source="ci", timestamp=NOW)
    before = kept_counts()
    stdout = io.StringIO()

    call_command("fold_event_counts", stdout=stdout)

    # Four hours and three types and sources, every one with rows appended since no fold.
    assert stdout.getvalue() == "Folded the event counts: 7 folded rows written.\n"
    assert unfolded_rows() == 0
    assert kept_counts() == before == counted_from_events()
