"""The operator's actions on a task's state: run now, disable, enable. The scheduler's own state
changes (claim, finish, reclaim) are in `scheduler`. Each locks the task's row, so an action and
a claim never interleave. Run now and enable need the task's owner to be allowed its skill (a
PermissionDenied otherwise); disabling is always allowed."""

from django.core.exceptions import PermissionDenied
from django.db import transaction

from ..models import ScheduledTask, TaskStatus
from ..skills import get_skill
from .scheduler import UNREADABLE_SCHEDULE, following_slot


class TaskStateError(Exception):
    """The task is in a state that does not allow the requested action."""


def _locked(task):
    return ScheduledTask.objects.select_for_update(no_key=True).get(pk=task.pk)


def _check_owner_allowed(task):
    """PermissionDenied, saying why, when the task's owner may not use its skill (staff acting
    on the task included: it runs with its owner's rights). An unknown skill is not refused here:
    its run fails and says so."""
    registered = get_skill(task.skill_name)
    refusal = registered.refusal(task.user) if registered is not None else None
    if refusal is not None:
        raise PermissionDenied(refusal)


def task_run_now(*, task, now):
    """Queues an immediate run: the task becomes due at `now` (its own slot, so it can never
    collide with a cron slot already run). Refused (TaskStateError) while a worker runs it or it
    is disabled, and (PermissionDenied) when its owner may not use its skill. One transaction
    (the row locked, then saved); returns the task."""
    with transaction.atomic():
        task = _locked(task)
        _check_owner_allowed(task)
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
    running task is left as it is; a schedule that cannot be read is refused (TaskStateError),
    and so (PermissionDenied) is a task whose owner may not use its skill. One transaction;
    returns the task."""
    with transaction.atomic():
        task = _locked(task)
        _check_owner_allowed(task)
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
