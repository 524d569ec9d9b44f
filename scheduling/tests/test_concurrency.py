"""Two connections writing at the same time: tasks_count stays exact, and a unique name or slot
that both claim ends as one row and one field error, never an IntegrityError."""

import threading
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from scheduling import services
from scheduling.models import Agent, ExecutionResult, Project, ScheduledTask

from .factories import ProjectFactory, UserFactory

TASKS_PER_THREAD = 25


def run_in_threads(*targets):
    """Runs each target in its own thread, so on its own database connection, all released
    together by a barrier; re-raises the first error."""
    barrier = threading.Barrier(len(targets))
    errors = []

    def worker(target):
        try:
            barrier.wait()
            target()
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


@pytest.mark.django_db(transaction=True)
def test_tasks_count_is_exact_under_concurrent_creation():
    user = UserFactory()
    project = ProjectFactory(user=user)

    def create_tasks():
        for _ in range(TASKS_PER_THREAD):
            services.task_create(
                user=user, skill_name="demo.echo", schedule_cron="* * * * *", project=project
            )

    run_in_threads(create_tasks, create_tasks)

    project.refresh_from_db()
    assert project.tasks_count == ScheduledTask.objects.filter(project=project).count()
    assert project.tasks_count == 2 * TASKS_PER_THREAD


@pytest.mark.django_db(transaction=True)
def test_tasks_count_is_exact_under_concurrent_moves_in_opposite_directions():
    user = UserFactory()
    first, second = ProjectFactory(user=user), ProjectFactory(user=user)
    forward = [
        services.task_create(
            user=user, skill_name="demo.echo", schedule_cron="* * * * *", project=first
        )
        for _ in range(TASKS_PER_THREAD)
    ]
    backward = [
        services.task_create(
            user=user, skill_name="demo.echo", schedule_cron="* * * * *", project=second
        )
        for _ in range(TASKS_PER_THREAD)
    ]

    def move(tasks, destination):
        def run():
            for task in tasks:
                services.task_update(task=task, data={"project": destination})

        return run

    run_in_threads(move(forward, second), move(backward, first))

    counts = dict(Project.objects.values_list("pk", "tasks_count"))
    assert counts == {first.pk: TASKS_PER_THREAD, second.pk: TASKS_PER_THREAD}


@pytest.mark.django_db(transaction=True)
def test_concurrent_agents_with_one_name_make_one_agent_and_one_field_error():
    outcomes = []

    def create():
        try:
            services.agent_create(name="twin", type="coder")
            outcomes.append("created")
        except ValidationError as error:
            outcomes.append(error.message_dict)

    run_in_threads(create, create)

    assert sorted(outcomes, key=str) == sorted(
        ["created", {"name": ["An agent with this name already exists."]}], key=str
    )
    assert Agent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_of_one_slot_make_one_execution():
    task = services.task_create(
        user=UserFactory(), skill_name="demo.echo", schedule_cron="* * * * *"
    )
    slot = datetime(2026, 1, 1, tzinfo=UTC)
    outcomes = []

    def record():
        try:
            services.execution_create(task=task, scheduled_for=slot)
            outcomes.append("created")
        except ValidationError as error:
            outcomes.append(error.message_dict)

    run_in_threads(record, record)

    assert sorted(outcomes, key=str) == sorted(
        ["created", {"scheduled_for": ["This task already has an execution for that slot."]}],
        key=str,
    )
    assert ExecutionResult.objects.count() == 1
