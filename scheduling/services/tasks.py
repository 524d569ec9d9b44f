"""Scheduled task writes; they keep Project.tasks_count exact."""

from datetime import datetime

from django.db import transaction
from django.utils.timezone import now

from ..cron import next_run
from ..models import Project, ScheduledTask, TaskStatus
from .common import adjust_tasks_count, assign

# What an owner may change. A task's status and lease are the scheduler's (services.scheduler:
# claim, finish, run now, disable, enable).
TASK_UPDATABLE = frozenset(
    {
        "skill_name",
        "schedule_cron",
        "timezone",
        "next_run_at",
        "params_json",
        "timeout_seconds",
        "project",
    }
)

# What a task may start as: the scheduler moves it through running, completed and failed.
TASK_INITIAL_STATUSES = frozenset({TaskStatus.PENDING, TaskStatus.DISABLED})


@transaction.atomic
def task_create(
    *,
    user,
    skill_name: str,
    schedule_cron: str,
    timezone: str = "UTC",
    next_run_at: datetime | None = None,
    params_json: dict | None = None,
    status: str = TaskStatus.PENDING,
    timeout_seconds: int = 300,
    project: Project | None = None,
) -> ScheduledTask:
    """Creates `user`'s task, pending (the scheduler runs it when due) or disabled; any other
    status is the scheduler's to set, and asking for it is a programming error (ValueError).
    next_run_at, unless given, is the cron's next time after now in `timezone`. The project's
    tasks_count goes up by one in the same transaction."""
    if status not in TASK_INITIAL_STATUSES:
        raise ValueError(
            f"A task starts pending or disabled, not {status!r}: its other states are the "
            f"scheduler's."
        )
    task = ScheduledTask(
        user=user,
        skill_name=skill_name,
        schedule_cron=schedule_cron,
        timezone=timezone,
        next_run_at=next_run_at,
        params_json={} if params_json is None else params_json,
        status=status,
        timeout_seconds=timeout_seconds,
        project=project,
    )
    task.full_clean()
    if next_run_at is None:
        task.next_run_at = next_run(schedule_cron, timezone, now())
    task.save()
    adjust_tasks_count({task.project_id: 1})
    return task


@transaction.atomic
def task_update(*, task: ScheduledTask, data: dict) -> ScheduledTask:
    """Updates a task, validating the fields `data` changes. A changed cron or timezone
    recomputes next_run_at from now (unless `data` sets next_run_at too), and so does a
    next_run_at set to None, as on create (a pending task without one would never be due). A move
    to another project moves one from one tasks_count to the other; the task's row is locked
    first, so concurrent moves of one task stay exact. Only the changed fields are written, so a
    claim the scheduler made meanwhile is never overwritten."""
    committed_project_id = (
        ScheduledTask.objects.select_for_update()
        .filter(pk=task.pk)
        .values_list("project_id", flat=True)
        .get()
    )
    schedule_changed = any(
        name in data and data[name] != getattr(task, name) for name in ("schedule_cron", "timezone")
    )
    assign(task, data, TASK_UPDATABLE)
    # What the update changes is validated; a stored value an older rule allowed stays as it is.
    task.full_clean(exclude=[field.name for field in task._meta.fields if field.name not in data])
    changed = set(data)
    recompute = ("next_run_at" in data and data["next_run_at"] is None) or (
        schedule_changed and "next_run_at" not in data
    )
    if recompute:
        task.next_run_at = next_run(task.schedule_cron, task.timezone, now())
        changed.add("next_run_at")
    task.save(update_fields=[*sorted(changed), "updated_at"])
    if task.project_id != committed_project_id:
        adjust_tasks_count({committed_project_id: -1, task.project_id: 1})
    return task


@transaction.atomic
def task_delete(*, task: ScheduledTask) -> None:
    """Deletes a task and (cascade) its executions; its project's tasks_count goes down by one.
    A task already deleted by a concurrent transaction is left alone."""
    try:
        project_id = (
            ScheduledTask.objects.select_for_update()
            .filter(pk=task.pk)
            .values_list("project_id", flat=True)
            .get()
        )
    except ScheduledTask.DoesNotExist:
        return
    task.delete()
    adjust_tasks_count({project_id: -1})
