"""Reads of scheduled tasks, their owners and the skills they may run."""

from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Min, QuerySet
from django.utils.timezone import now

from ..models import ScheduledTask, TaskStatus
from ..skills import all_skills


def task_list(*, user) -> QuerySet[ScheduledTask]:
    """The scheduled tasks `user` may see, newest first."""
    tasks = ScheduledTask.objects.order_by("-created_at", "-id")
    return tasks if user.is_staff else tasks.filter(user=user)


def task_owner_visible(*, user, owner_id: int | None) -> bool:
    """Whether `user` may see a row of the task owner `owner_id` (the task, its executions), as
    task_list and execution_list decide for rows they query: staff see all, a user their own."""
    return user.is_staff or (owner_id is not None and owner_id == user.pk)


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


def task_owner_in_bulk(*, user_ids):
    """The users of `user_ids` by primary key, in one query: the owners of claimed tasks."""
    return get_user_model().objects.in_bulk(user_ids)


def skill_list(*, user):
    """The registered skills `user` may schedule and run (Skill.refusal), by name. Permissions
    are read once per user object (Django caches them on it): at most two queries."""
    return [registered for registered in all_skills() if registered.refusal(user) is None]
