"""Reads of execution results and their statistics."""

from datetime import datetime

from django.db.models import Aggregate, Avg, Count, FloatField, Q, QuerySet

from ..models import ExecutionResult, ExecutionStatus

P95 = 0.95


def execution_list(*, user) -> QuerySet[ExecutionResult]:
    """The executions `user` may see (those of their tasks), latest first."""
    executions = ExecutionResult.objects.order_by("-started_at", "-id")
    return executions if user.is_staff else executions.filter(task__user=user)


class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate `percentile_cont(fraction) WITHIN GROUP (ORDER BY x)`:
    the continuous percentile, interpolated between the two nearest values; NULLs are ignored."""

    function = "PERCENTILE_CONT"
    name = "PercentileCont"
    output_field = FloatField()
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, *, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


def execution_stats(
    *,
    user,
    task_id: int | None = None,
    started_after: datetime | None = None,
    started_before: datetime | None = None,
) -> dict:
    """Statistics over the executions `user` may see, optionally of one task and
    within [started_after, started_before]: total, the count per status (`running` = not complete
    yet), success_rate (success / completed, None before any completes), and average and p95
    duration_ms. One aggregate query."""
    executions = execution_list(user=user).order_by()
    if task_id is not None:
        executions = executions.filter(task_id=task_id)
    if started_after is not None:
        executions = executions.filter(started_at__gte=started_after)
    if started_before is not None:
        executions = executions.filter(started_at__lte=started_before)
    aggregates = {
        "total": Count("id"),
        **{status: Count("id", filter=Q(status=status)) for status in ExecutionStatus.values},
        "running": Count("id", filter=Q(status__isnull=True)),
        "avg_duration_ms": Avg("duration_ms"),
        "p95_duration_ms": PercentileCont("duration_ms", fraction=P95),
    }
    stats = executions.aggregate(**aggregates)
    completed = stats["total"] - stats["running"]
    stats["success_rate"] = stats[ExecutionStatus.SUCCESS] / completed if completed else None
    return stats
