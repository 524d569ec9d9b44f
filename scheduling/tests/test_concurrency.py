"""tasks_count stays exact when two connections create and move tasks at the same time."""

import threading

import pytest
from django.db import connection

from scheduling import services
from scheduling.models import Project, ScheduledTask

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
        except Exception as error:  # noqa: BLE001 - reported to the test below
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
                user=user, skill_name="test.noop", schedule_cron="* * * * *", project=project
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
            user=user, skill_name="test.noop", schedule_cron="* * * * *", project=first
        )
        for _ in range(TASKS_PER_THREAD)
    ]
    backward = [
        services.task_create(
            user=user, skill_name="test.noop", schedule_cron="* * * * *", project=second
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
