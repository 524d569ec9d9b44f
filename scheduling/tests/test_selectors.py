from datetime import timedelta

import pytest
from django.utils.timezone import now

from scheduling.models import ExecutionResult
from scheduling.selectors import task_pending_list
from scheduling.selectors.executions import PercentileCont

from .factories import ExecutionResultFactory, ScheduledTaskFactory

pytestmark = pytest.mark.django_db


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
def test_percentile_cont_interpolates_between_the_ordered_values_and_ignores_nulls(
    user, durations, fraction
):
    task = ScheduledTaskFactory(user=user)
    for duration in durations:
        ExecutionResultFactory(task=task, duration_ms=duration)
    ExecutionResultFactory(task=task, status=None, ended_at=None, duration_ms=None)
    ordered = sorted(durations)
    expected = None
    if ordered:
        position = fraction * (len(ordered) - 1)
        lower = int(position)
        upper = min(lower + 1, len(ordered) - 1)
        expected = ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)

    found = ExecutionResult.objects.aggregate(p=PercentileCont("duration_ms", fraction=fraction))

    assert found["p"] == (pytest.approx(expected) if expected is not None else None)
