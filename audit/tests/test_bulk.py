"""The audited QuerySet: update(), delete(), bulk_create() and bulk_update() write one record per
changed row, in a number of queries that does not depend on the number of rows."""

from datetime import timedelta
from math import ceil

import pytest
from django.db import NotSupportedError, connection
from django.db.models import F
from django.db.models.sql.constants import GET_ITERATOR_CHUNK_SIZE
from django.utils import timezone

from audit.models import AuditLog
from events.models import SystemEvent
from scheduling.models import ExecutionResult, ScheduledTask

from .factories import (
    ExecutionResultFactory,
    ProjectFactory,
    ScheduledTaskFactory,
    SystemEventFactory,
)

pytestmark = pytest.mark.django_db

ROW_COUNTS = [1, 500]


def _events(count, **fields):
    return SystemEvent.objects.bulk_create(
        [
            SystemEvent(event_type="deployment", severity="info", message=f"m{n}", **fields)
            for n in range(count)
        ]
    )


@pytest.mark.parametrize("count", ROW_COUNTS)
def test_update_records_each_changed_row_in_four_queries(count, django_assert_num_queries):
    events = _events(count)

    # SELECT ... FOR UPDATE (old values), UPDATE, SELECT (new values), INSERT (records).
    with django_assert_num_queries(4):
        updated = SystemEvent.objects.filter(severity="info").update(severity="error")

    assert updated == count
    logs = AuditLog.objects.filter(operation="UPDATE")
    assert sorted(int(log.record_id) for log in logs) == sorted(event.pk for event in events)
    assert all(log.changed_fields == {"severity": {"old": "info", "new": "error"}} for log in logs)


def test_update_with_an_expression_records_the_stored_result(records):
    task = ScheduledTaskFactory(timeout_seconds=300)

    ScheduledTask.objects.filter(pk=task.pk).update(timeout_seconds=F("timeout_seconds") + 60)

    change = records(operation="UPDATE")[0][3]
    assert change["timeout_seconds"] == {"old": 300, "new": 360}


def test_update_leaves_unchanged_rows_unrecorded(records):
    SystemEventFactory(severity="error")
    changed = SystemEventFactory(severity="info")

    SystemEvent.objects.update(severity="error")

    assert [record_id for _, _, record_id, _ in records(operation="UPDATE")] == [str(changed.pk)]


def test_update_of_no_row_is_one_query(django_assert_num_queries):
    with django_assert_num_queries(1):
        assert SystemEvent.objects.filter(pk=0).update(message="x") == 0


def test_update_maintains_auto_now_fields():
    task = ScheduledTaskFactory()
    before = ScheduledTask.objects.get(pk=task.pk).updated_at

    ScheduledTask.objects.filter(pk=task.pk).update(status="disabled")

    assert ScheduledTask.objects.get(pk=task.pk).updated_at > before
    change = AuditLog.objects.get(operation="UPDATE").changed_fields
    assert set(change) == {"status", "updated_at"}


def test_update_keeps_an_auto_now_value_given_explicitly():
    task = ScheduledTaskFactory()
    given = timezone.now() - timedelta(days=3)

    ScheduledTask.objects.filter(pk=task.pk).update(status="disabled", updated_at=given)

    assert ScheduledTask.objects.get(pk=task.pk).updated_at == given


def _audit_queries(captured):
    return [query["sql"].split()[0] for query in captured if "audit_logs" in query["sql"]]


@pytest.mark.parametrize("count", ROW_COUNTS)
def test_delete_records_each_row_with_one_insert(count, django_assert_max_num_queries, records):
    events = _events(count)

    # The collector's SELECT and its DELETEs (Django deletes GET_ITERATOR_CHUNK_SIZE rows per
    # statement), plus one INSERT of every record.
    expected = 1 + ceil(count / GET_ITERATOR_CHUNK_SIZE) + 1
    with django_assert_max_num_queries(expected) as captured:
        SystemEvent.objects.all().delete()

    assert len(captured) == expected
    assert _audit_queries(captured) == ["INSERT"]
    deleted = {int(record_id): changed for _, _, record_id, changed in records(operation="DELETE")}
    assert sorted(deleted) == [event.pk for event in events]
    assert deleted[events[0].pk]["message"] == "m0"


@pytest.mark.parametrize("count", ROW_COUNTS)
def test_delete_of_tasks_records_their_cascaded_executions_with_one_insert(
    count, django_assert_max_num_queries
):
    tasks = [ScheduledTaskFactory() for _ in range(count)]
    for task in tasks:
        ExecutionResultFactory(task=task)

    with django_assert_max_num_queries(20) as captured:
        ScheduledTask.objects.all().delete()

    assert _audit_queries(captured) == ["INSERT"]
    deleted = AuditLog.objects.filter(operation="DELETE")
    assert deleted.filter(table_name="scheduled_tasks").count() == count
    assert deleted.filter(table_name="execution_results").count() == count
    assert not ExecutionResult.objects.exists()


@pytest.mark.parametrize("count", ROW_COUNTS)
def test_bulk_create_records_each_row_in_two_queries(count, django_assert_num_queries, records):
    with django_assert_num_queries(2):
        events = _events(count)

    created = records(operation="CREATE")
    assert [int(record_id) for _, _, record_id, _ in created] == [event.pk for event in events]
    assert created[-1][3]["message"] == f"m{count - 1}"


def test_bulk_create_refuses_conflict_handling():
    with pytest.raises(NotSupportedError):
        SystemEvent.objects.bulk_create(
            [SystemEvent(event_type="x", severity="info", message="m")], ignore_conflicts=True
        )

    assert not SystemEvent.objects.exists()


@pytest.mark.parametrize("count", ROW_COUNTS)
def test_bulk_update_records_each_changed_row_in_four_queries(count, django_assert_num_queries):
    events = list(SystemEvent.objects.filter(pk__in=[e.pk for e in _events(count)]))
    for event in events:
        event.message = f"{event.message}!"

    with django_assert_num_queries(4):
        SystemEvent.objects.bulk_update(events, ["message", "severity"])

    logs = {
        int(log.record_id): log.changed_fields
        for log in AuditLog.objects.filter(operation="UPDATE")
    }
    assert logs == {
        event.pk: {"message": {"old": event.message[:-1], "new": event.message}} for event in events
    }


def test_bulk_update_maintains_auto_now_and_refreshes_snapshots(records):
    task = ScheduledTask.objects.get(pk=ScheduledTaskFactory(status="pending").pk)
    before = task.updated_at
    task.status = "running"

    ScheduledTask.objects.bulk_update([task], ["status"])
    task.save()

    assert ScheduledTask.objects.get(pk=task.pk).updated_at > before
    assert [set(changed) for *_, changed in records(operation="UPDATE")] == [
        {"status", "updated_at"}
    ]


def test_update_filtered_across_a_relation_records_the_matching_rows(records):
    kept = ScheduledTaskFactory(project=ProjectFactory(name="kept"))
    moved = ScheduledTaskFactory(project=ProjectFactory(name="moved"))

    ScheduledTask.objects.filter(project__name="moved").update(status="disabled")

    assert [record_id for _, _, record_id, _ in records(operation="UPDATE")] == [str(moved.pk)]
    assert ScheduledTask.objects.get(pk=kept.pk).status == "pending"


def test_writes_of_more_rows_than_one_statement_can_bind_are_recorded_in_full():
    # More records than PostgreSQL binds in one statement with server_side_binding (65,535
    # parameters, nine a record); every row is recorded whatever the binding.
    count = 65_535 // 9 + 1
    events = _events(count)

    SystemEvent.objects.update(severity="error")
    SystemEvent.objects.all().delete()

    ids = sorted(str(event.pk) for event in events)
    for operation in ("CREATE", "UPDATE", "DELETE"):
        logs = AuditLog.objects.filter(operation=operation)
        assert sorted(logs.values_list("record_id", flat=True)) == ids


def test_records_are_split_where_the_database_caps_a_statements_parameters(
    django_assert_num_queries, monkeypatch
):
    events = _events(5)
    # As with server_side_binding: two records (nine parameters each) to a statement.
    monkeypatch.setattr(connection.features, "max_query_params", 18)

    # SELECT ... FOR UPDATE, UPDATE, SELECT, then the five records in three INSERTs.
    with django_assert_num_queries(6):
        SystemEvent.objects.update(severity="error")

    assert sorted(
        AuditLog.objects.filter(operation="UPDATE").values_list("record_id", flat=True)
    ) == (sorted(str(event.pk) for event in events))
