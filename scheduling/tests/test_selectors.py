from datetime import timedelta

import pytest
from django.utils.timezone import now

from scheduling.models import ExecutionResult
from scheduling.selectors import (
    PercentileCont,
    agent_get_by_name,
    execution_list_for_task,
    percentile_by_offset,
    task_pending_list,
)

from .factories import AgentFactory, ExecutionResultFactory, ScheduledTaskFactory

pytestmark = pytest.mark.django_db


def test_agent_get_by_name():
    agent = AgentFactory(name="rex")

    assert (agent_get_by_name(name="rex"), agent_get_by_name(name="nobody")) == (agent, None)


def test_execution_list_for_task_is_latest_first(user):
    task = ScheduledTaskFactory(user=user)
    older = ExecutionResultFactory(task=task)
    newer = ExecutionResultFactory(task=task, started_at=older.started_at + timedelta(seconds=1))
    ExecutionResultFactory(task=ScheduledTaskFactory(user=user))

    assert list(execution_list_for_task(task=task)) == [newer, older]


def test_pending_list_without_a_user_is_the_schedulers_view(user, other_user):
    moment = now()
    mine = ScheduledTaskFactory(user=user, next_run_at=moment - timedelta(seconds=2))
    theirs = ScheduledTaskFactory(user=other_user, next_run_at=moment - timedelta(seconds=1))
    ScheduledTaskFactory(user=user, next_run_at=moment + timedelta(seconds=30))

    assert list(task_pending_list()) == [mine, theirs]
    assert task_pending_list(at=moment + timedelta(minutes=1)).count() == 3


@pytest.mark.parametrize(
    "durations",
    [[], [7], [100, 200], [5, 1, 9, 3, 7, 2, 8], list(range(0, 1000, 37))],
)
@pytest.mark.parametrize("fraction", [0.5, 0.95, 0.99])
def test_percentile_by_offset_matches_postgresql_percentile_cont(user, durations, fraction):
    task = ScheduledTaskFactory(user=user)
    for duration in durations:
        ExecutionResultFactory(task=task, duration_ms=duration)
    ExecutionResultFactory(task=task, status=None, ended_at=None, duration_ms=None)
    executions = ExecutionResult.objects.all()

    expected = executions.aggregate(p=PercentileCont("duration_ms", fraction=fraction))["p"]

    assert percentile_by_offset(executions, field="duration_ms", fraction=fraction) == (
        pytest.approx(expected) if expected is not None else None
    )
