"""Reads of the scheduling app: querysets scoped to the user, and the execution statistics.

A user sees their own projects and tasks and their tasks' executions; staff see every row.
Agents have no owner: every authenticated user sees them all.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Aggregate, Avg, Count, FloatField, Min, Q, QuerySet, Value
from django.db.models.functions import Lower
from django.db.models.lookups import Exact
from django.utils.timezone import now

from .models import (
    Agent,
    ExecutionResult,
    ExecutionStatus,
    Project,
    ScheduledTask,
    SchedulerHeartbeat,
    TaskStatus,
)
from .skills import all_skills

P95 = 0.95


def project_list(*, user) -> QuerySet[Project]:
    """The projects `user` may see, newest first."""
    projects = Project.objects.order_by("-created_at", "-id")
    return projects if user.is_staff else projects.filter(user=user)


def task_list(*, user) -> QuerySet[ScheduledTask]:
    """The scheduled tasks `user` may see, newest first."""
    tasks = ScheduledTask.objects.order_by("-created_at", "-id")
    return tasks if user.is_staff else tasks.filter(user=user)


def skill_list(*, user):
    """The registered skills `user` may schedule and run (Skill.refusal), by name. Permissions
    are read once per user object (Django caches them on it): at most two queries."""
    return [registered for registered in all_skills() if registered.refusal(user) is None]


def task_owners(*, user_ids):
    """The users of `user_ids` by primary key, in one query: the owners of claimed tasks."""
    return get_user_model().objects.in_bulk(user_ids)


def task_pending_list(*, user=None, at: datetime | None = None) -> QuerySet[ScheduledTask]:
    """Tasks due at `at` (default now), that is pending with
    next_run_at <= at, oldest due first (served by the (status, next_run_at) index). With a
    `user`, only the tasks that user may see; without, all of them (the scheduler's view)."""
    tasks = ScheduledTask.objects.filter(
        status=TaskStatus.PENDING, next_run_at__lte=now() if at is None else at
    ).order_by("next_run_at", "id")
    if user is None or user.is_staff:
        return tasks
    return tasks.filter(user=user)


def task_next_due_at() -> datetime | None:
    """When the earliest pending task that a scheduler may claim falls due (None when there is
    none): one aggregate, served by the (status, next_run_at) index, so an idle scheduler wakes
    on time, not a poll late. The tasks of an owner whose running tasks already reach
    TASKS_MAX_RUNNING_PER_USER are left out: they wait for one of those runs to end, and a
    scheduler polling for them would spin."""
    owners_at_most = (
        ScheduledTask.objects.filter(lease_expires_at__isnull=False)
        .values("user_id")
        .annotate(running=Count("pk"))
        .filter(running__gte=settings.TASKS_MAX_RUNNING_PER_USER)
        .values("user_id")
    )
    return (
        ScheduledTask.objects.filter(status=TaskStatus.PENDING)
        .exclude(user_id__in=owners_at_most)
        .aggregate(next_due=Min("next_run_at"))["next_due"]
    )


def task_due_count(*, now: datetime) -> int:
    """How many tasks are due (pending, next_run_at <= now) and wait to be claimed: one count
    over the (status, next_run_at) index."""
    return ScheduledTask.objects.filter(status=TaskStatus.PENDING, next_run_at__lte=now).count()


# A scheduler's state: looping, stopped cleanly, or silent for longer than the stale threshold.
SCHEDULER_RUNNING, SCHEDULER_STOPPED, SCHEDULER_UNHEALTHY = "running", "stopped", "unhealthy"


def scheduler_status(*, now: datetime, stale_after: timedelta) -> dict:
    """The schedulers' heartbeats, each with its state (running; stopped, cleanly; unhealthy:
    no loop for `stale_after`), newest loop first, the due tasks waiting now, and an overall
    status: ok when a scheduler runs and none is unhealthy, degraded when one runs and another
    is unhealthy, unhealthy when none runs. Two queries."""
    schedulers = []
    for heartbeat in SchedulerHeartbeat.objects.order_by("-last_loop_at", "worker"):
        if heartbeat.stopped_at is not None:
            state = SCHEDULER_STOPPED
        elif heartbeat.last_loop_at < now - stale_after:
            state = SCHEDULER_UNHEALTHY
        else:
            state = SCHEDULER_RUNNING
        schedulers.append(
            {
                "worker": heartbeat.worker,
                "state": state,
                "started_at": heartbeat.started_at,
                "last_loop_at": heartbeat.last_loop_at,
                "stopped_at": heartbeat.stopped_at,
                "due_waiting": heartbeat.due_waiting,
            }
        )
    states = {scheduler["state"] for scheduler in schedulers}
    if SCHEDULER_RUNNING not in states:
        status = "unhealthy"
    elif SCHEDULER_UNHEALTHY in states:
        status = "degraded"
    else:
        status = "ok"
    return {
        "status": status,
        "last_loop_at": max((s["last_loop_at"] for s in schedulers), default=None),
        "due_waiting": task_due_count(now=now),
        "stale_after_seconds": stale_after.total_seconds(),
        "schedulers": schedulers,
    }


def agent_list() -> QuerySet[Agent]:
    """Every agent, by name."""
    return Agent.objects.order_by("name")


def agents_named(name: str, *, queryset: QuerySet[Agent] | None = None) -> QuerySet[Agent]:
    """The agents (of `queryset`, default all) named `name` whatever the case: at most one,
    found through the unique index on lower(name)."""
    queryset = Agent.objects.all() if queryset is None else queryset
    return queryset.filter(Exact(Lower("name"), Lower(Value(name))))


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
