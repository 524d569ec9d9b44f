import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditLog
from brain.context import audit_actor
from events.models import SystemEvent
from events.services import (
    event_bulk_create,
    event_create,
    event_delete,
    event_load,
    event_purge,
    event_update,
)

from .factories import SystemEventFactory

pytestmark = pytest.mark.django_db


def statements(queries):
    """The captured SQL, without the savepoints of atomic blocks nested in the test's
    transaction."""
    return [query["sql"] for query in queries if "SAVEPOINT" not in query["sql"]]


def inserted_tables(queries):
    """The table of each INSERT, in order."""
    return [sql.split('"')[1] for sql in statements(queries) if sql.startswith("INSERT")]


def test_event_create_writes_one_row():
    with CaptureQueriesContext(connection) as queries:
        event = event_create(event_type="deploy", severity="info", message="m", source="ci")

    # The event, then its audit record: nothing else.
    assert inserted_tables(queries) == ["system_events", "audit_logs"]
    assert len(statements(queries)) == 2
    assert SystemEvent.objects.values_list(
        "event_type", "severity", "message", "source", "details"
    ).get() == (
        "deploy",
        "info",
        "m",
        "ci",
        None,
    )
    assert event.pk is not None


def test_event_update_saves_only_the_given_fields():
    event = SystemEventFactory(message="old", severity="info")

    with CaptureQueriesContext(connection) as queries:
        event_update(event=event, data={"severity": "error"})

    [update] = [query["sql"] for query in queries if query["sql"].startswith("UPDATE")]
    assert update.startswith('UPDATE "system_events" SET "severity" = ')
    assert SystemEvent.objects.values_list("severity", "message").get() == ("error", "old")


def test_event_update_with_nothing_writes_nothing():
    event = SystemEventFactory()

    with CaptureQueriesContext(connection) as queries:
        event_update(event=event, data={})

    assert statements(queries) == []


def test_event_update_refuses_fields_that_are_not_updatable():
    event = SystemEventFactory()

    with pytest.raises(TypeError, match="Cannot update created_at, id of a SystemEvent"):
        event_update(event=event, data={"id": 5, "created_at": None})


def test_event_delete():
    event = SystemEventFactory()

    event_delete(event=event)

    assert not SystemEvent.objects.exists()


def test_event_bulk_create_is_one_insert_and_returns_ids():
    with CaptureQueriesContext(connection) as queries:
        events = event_bulk_create(
            events=[{"event_type": "a", "severity": "info", "message": str(n)} for n in range(50)]
        )

    # One INSERT of the 50 events and one of their 50 audit records.
    assert inserted_tables(queries) == ["system_events", "audit_logs"]
    assert len(statements(queries)) == 2
    assert [event.pk for event in events] == list(
        SystemEvent.objects.order_by("id").values_list("id", flat=True)
    )


def test_event_load_copies_events_and_one_audit_record_each(django_capture_on_commit_callbacks):
    now = datetime.now(UTC)
    batch = [
        {
            "event_type": "deploy",
            "severity": "info",
            "message": f"m{n}",
            "details": {"a": n},
            "source": "ci",
            "timestamp": now,
            "created_at": now,
        }
        for n in range(3)
    ]

    with audit_actor("system:seed_events"):
        count = event_load(events=batch)

    assert count == 3
    events = list(
        SystemEvent.objects.order_by("id").values_list("id", "message", "details", "timestamp")
    )
    assert [event[1:] for event in events] == [(f"m{n}", {"a": n}, now) for n in range(3)]
    records = AuditLog.objects.order_by("id")
    assert [(r.operation, r.record_id, r.user_id) for r in records] == [
        ("CREATE", str(event[0]), "system:seed_events") for event in events
    ]
    assert records[0].changed_fields == {
        "event_type": "deploy",
        "severity": "info",
        "message": "m0",
        "details": {"a": 0},
        "source": "ci",
        "timestamp": records[0].changed_fields["timestamp"],
        "created_at": records[0].changed_fields["created_at"],
    }
    assert datetime.fromisoformat(records[0].changed_fields["timestamp"]) == now.replace(
        microsecond=now.microsecond // 1000 * 1000
    )


def test_event_purge_deletes_older_events_in_batches():
    now = datetime.now(UTC)
    for days in (100, 95, 91):
        SystemEventFactory(timestamp=now - timedelta(days=days))
    kept = SystemEventFactory(timestamp=now - timedelta(days=89))
    batches = []

    deleted = event_purge(
        older_than=now - timedelta(days=90), batch_size=2, progress=batches.append
    )

    assert deleted == 3
    assert batches == [2, 1]
    assert list(SystemEvent.objects.all()) == [kept]


@pytest.mark.django_db(transaction=True)
def test_event_purge_audits_only_the_rows_it_deleted_while_another_writer_deletes_one():
    now = datetime.now(UTC)
    old = [SystemEventFactory(timestamp=now - timedelta(days=days)) for days in (100, 95, 91)]
    taken = old[1]
    settings = connection.settings_dict
    other = psycopg.connect(
        dbname=settings["NAME"],
        host=settings["HOST"],
        port=settings["PORT"],
        user=settings["USER"],
        password=settings["PASSWORD"],
    )
    try:
        # Another writer deletes one of them and has not committed yet.
        other.execute("DELETE FROM system_events WHERE id = %s", [taken.pk])
        # Should the purge wait for its row, the writer commits a second later.
        commit_later = threading.Timer(1.0, other.commit)
        commit_later.start()

        deleted = event_purge(older_than=now - timedelta(days=90))
    finally:
        commit_later.cancel()
        commit_later.join()
        other.commit()
        other.close()

    purged = AuditLog.objects.filter(table_name="system_events", operation="DELETE")
    assert deleted == 2
    assert sorted(int(record.record_id) for record in purged) == sorted(
        event.pk for event in old if event is not taken
    )
    assert not SystemEvent.objects.exists()
