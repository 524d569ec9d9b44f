"""The database itself enforces the schema's constraints, whatever path writes."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from scheduling.models import Agent, ExecutionResult, Project, ScheduledTask

from .factories import AgentFactory, ExecutionResultFactory, ProjectFactory, ScheduledTaskFactory

pytestmark = pytest.mark.django_db


def refused(write):
    with pytest.raises(IntegrityError), transaction.atomic():
        write()


def test_table_names_are_fixed():
    assert [model._meta.db_table for model in (Project, ScheduledTask, Agent, ExecutionResult)] == [
        "projects",
        "scheduled_tasks",
        "agents",
        "execution_results",
    ]


def test_composite_indexes_are_in_place():
    with connection.cursor() as cursor:
        indexes = {
            table: connection.introspection.get_constraints(cursor, table)
            for table in ("projects", "scheduled_tasks", "agents", "execution_results")
        }
    composite = {
        table: sorted(
            tuple(details["columns"])
            for details in constraints.values()
            if details["index"] and len(details["columns"]) == 2
        )
        for table, constraints in indexes.items()
    }

    assert composite == {
        "projects": [("name", "user_id"), ("user_id", "created_at")],
        "scheduled_tasks": [("status", "next_run_at"), ("user_id", "status")],
        "agents": [("status", "last_active_at"), ("type", "status")],
        "execution_results": [
            ("status", "started_at"),
            ("task_id", "started_at"),
        ],
    }


def test_task_status_is_checked_by_the_database(user):
    task = ScheduledTaskFactory(user=user)

    refused(lambda: ScheduledTask.objects.filter(pk=task.pk).update(status="sleeping"))


def test_agent_status_and_name_are_checked_by_the_database():
    agent = AgentFactory(name="rex")

    refused(lambda: Agent.objects.filter(pk=agent.pk).update(status="asleep"))
    refused(lambda: Agent.objects.create(name="rex", type="coder"))


@pytest.mark.parametrize(
    "change",
    [
        {"status": "exploded"},
        {"duration_ms": -1},
        {"ended_at": datetime(2000, 1, 1, tzinfo=UTC)},
    ],
)
def test_execution_constraints_are_checked_by_the_database(user, change):
    execution = ExecutionResultFactory(task=ScheduledTaskFactory(user=user))

    refused(lambda: ExecutionResult.objects.filter(pk=execution.pk).update(**change))


def test_one_slot_runs_once_by_the_database(user):
    slot = datetime(2026, 1, 1, tzinfo=UTC)
    execution = ExecutionResultFactory(task=ScheduledTaskFactory(user=user), scheduled_for=slot)

    refused(lambda: ExecutionResult.objects.create(task=execution.task, scheduled_for=slot))


def test_tasks_count_cannot_go_negative(user):
    project = ProjectFactory(user=user)

    refused(lambda: Project.objects.filter(pk=project.pk).update(tasks_count=-1))


def test_deleting_a_task_cascades_to_its_executions(user):
    execution = ExecutionResultFactory(task=ScheduledTaskFactory(user=user))

    execution.task.delete()

    assert not ExecutionResult.objects.exists()


def test_bulk_update_and_update_keep_updated_at(user):
    task = ScheduledTaskFactory(user=user)
    stale = datetime(2020, 1, 1, tzinfo=UTC)
    ScheduledTask.objects.filter(pk=task.pk).update(updated_at=stale)

    ScheduledTask.objects.filter(pk=task.pk).update(status="disabled")
    after_update = ScheduledTask.objects.get(pk=task.pk).updated_at
    ScheduledTask.objects.filter(pk=task.pk).update(updated_at=stale)
    task.status = "pending"
    ScheduledTask.objects.bulk_update([task], ["status"])
    after_bulk_update = ScheduledTask.objects.get(pk=task.pk).updated_at

    assert after_update > stale + timedelta(days=365)
    assert after_bulk_update > stale + timedelta(days=365)


def test_str_of_each_model(user):
    execution = ExecutionResultFactory(
        task=ScheduledTaskFactory(user=user, schedule_cron="0 * * * *"),
        started_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )

    assert [
        str(ProjectFactory(name="Ops")),
        str(execution.task),
        str(AgentFactory(name="rex")),
        str(execution),
    ] == [
        "Ops",
        "demo.echo (0 * * * *)",
        "rex",
        f"{execution.task_id} @ 2026-01-02 03:04:05 (success)",
    ]
