"""The operator's actions on a task's state: run now, disable, enable. The scheduler's own state
changes (claim, finish, reclaim) are in `scheduler`. Each locks the task's row, so an action and
a claim never interleave."""

from django.db import transaction

from ..models import ScheduledTask, TaskStatus
from .scheduler import UNREADABLE_SCHEDULE, following_slot


class TaskStateError(Exception):
    """The task is in a state that does not allow the requested action."""


def _locked(task):
    return ScheduledTask.objects.select_for_update(no_key=True).get(pk=task.pk)


def task_run_now(*, task, now):
    """Queues an immediate run: the task becomes due at `now` (its own slot, so it can never
    collide with a cron slot already run). Refused (TaskStateError) while a worker runs it or it
    is disabled. One transaction (the row locked, then saved); returns the task."""
    with transaction.atomic():
        task = _locked(task)
        if task.status == TaskStatus.RUNNING or task.claimed_by:
            raise TaskStateError("The task is running; it can be run again once this run ends.")
        if task.status == TaskStatus.DISABLED:
            raise TaskStateError("The task is disabled; enable it first.")
        task.status = TaskStatus.PENDING
        task.next_run_at = now
        task.save(update_fields=["status", "next_run_at", "updated_at"])
    return task


def task_disable(*, task):
    """Disables the task: the scheduler claims it no more. A run in progress finishes and is
    recorded; the task stays disabled. Idempotent; one transaction; returns the task."""
    with transaction.atomic():
        task = _locked(task)
        if task.status != TaskStatus.DISABLED:
            task.status = TaskStatus.DISABLED
            task.save(update_fields=["status", "updated_at"])
    return task


def task_enable(*, task, now):
    """Enables a disabled, failed or completed task from `now`: its next run is the cron's next
    slot after now, so nothing missed while it was off is replayed (completed if the cron never
    fires again). A task disabled mid-run goes back to running under its claim. A pending or
    running task is left as it is; a schedule that cannot be read is refused (TaskStateError).
    One transaction; returns the task."""
    with transaction.atomic():
        task = _locked(task)
        if task.status in (TaskStatus.PENDING, TaskStatus.RUNNING):
            return task
        if task.claimed_by:
            task.status = TaskStatus.RUNNING
        else:
            try:
                task.next_run_at = following_slot(task, now)
            except UNREADABLE_SCHEDULE as error:
                raise TaskStateError(f"The task's schedule cannot be read: {error}") from error
            task.status = TaskStatus.PENDING if task.next_run_at else TaskStatus.COMPLETED
        task.save(update_fields=["status", "next_run_at", "updated_at"])
    return task
