"""The migrations that partition system_events and audit_logs convert a populated database in
place: every event, audit record (with its transaction id) and kept count is found after, the
sealed log still verifies, and an index another migration added is carried over."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from audit.models import AuditLog
from audit.tests.factories import SystemEventFactory
from audit.tests.trail import seal_all
from audit.verification import audit_verify
from events.models import SystemEvent

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("events", "0006_message_max_length"), ("audit", "0007_console_indexes")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)


def query(sql):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def catalog(table):
    """The table's kind, index names, constraint names and trigger names."""
    return (
        query(f"SELECT relkind FROM pg_class WHERE oid = '{table}'::regclass")[0][0],
        query(f"SELECT indexname FROM pg_indexes WHERE tablename = '{table}' ORDER BY 1"),
        query(f"SELECT conname FROM pg_constraint WHERE conrelid = '{table}'::regclass ORDER BY 1"),
        query(
            f"SELECT tgname FROM pg_trigger WHERE tgrelid = '{table}'::regclass "
            "AND NOT tgisinternal ORDER BY 1"
        ),
    )


def contents():
    return (
        query("SELECT * FROM system_events ORDER BY id"),
        query("SELECT xid::text, * FROM audit_logs ORDER BY id"),
        query(
            "SELECT hour, severity, sum(count) FROM system_event_hour_counts "
            "GROUP BY 1, 2 HAVING sum(count) <> 0 ORDER BY 1, 2"
        ),
        query(
            "SELECT event_type, source, sum(count) FROM system_event_type_source_counts "
            "GROUP BY 1, 2 HAVING sum(count) <> 0 ORDER BY 1, 2"
        ),
    )


@pytest.fixture
def unpartitioned(keep_partitions):
    """The database before the partitioning migrations; the latest schema after the test."""
    migrate(BEFORE)
    yield
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS idx_system_events_created")


def test_a_populated_database_migrates_to_partitioned_tables(unpartitioned, api_client):
    # An index a migration of another app added, unknown to the partitioning migration.
    with connection.cursor() as cursor:
        cursor.execute("CREATE INDEX idx_system_events_created ON system_events (created_at)")
    now = timezone.now()
    events = [
        SystemEventFactory(timestamp=now - timedelta(days=days), severity=severity)
        for days, severity in [(0, "info"), (40, "error"), (400, "warning"), (400, "info")]
    ]
    SystemEvent.objects.filter(pk=events[0].pk).update(message="changed")
    seal_all()
    AuditLog.objects.create(operation="CREATE", table_name="elsewhere", record_id="1")
    before, catalog_before = contents(), [catalog("system_events"), catalog("audit_logs")]
    assert catalog_before[0][0] == "r"

    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    assert contents() == before
    after = [catalog("system_events"), catalog("audit_logs")]
    assert [entry[0] for entry in after] == ["p", "p"]
    assert [entry[1:] for entry in after] == [entry[1:] for entry in catalog_before]
    assert ("idx_system_events_created",) in after[0][1]
    assert audit_verify().ok
    newest = SystemEventFactory()
    assert newest.pk == max(event.pk for event in events) + 1
    for event in events:
        assert api_client.get(f"/api/events/{event.pk}").json()["id"] == event.pk
    assert query("SELECT count(*) FROM system_events_default") == [(0,)]
