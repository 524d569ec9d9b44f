"""Scheduled task writes; they keep Project.tasks_count exact."""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.timezone import now

from brain.db.rows import lock_row
from brain.services import assign

from ..cron import next_run
from ..models import Project, ScheduledTask, TaskStatus
from ..skills import get_skill
from .common import adjust_tasks_count

# What an owner may change. The lease is the scheduler's (services.scheduler: claim, finish), and
# so is the running status.
TASK_UPDATABLE = frozenset(
    {
        "skill_name",
        "schedule_cron",
        "timezone",
        "next_run_at",
        "params_json",
        "status",
        "timeout_seconds",
        "project",
    }
)

# The statuses an owner (or staff) may set; running is the scheduler's to set, when it claims.
TASK_SETTABLE_STATUSES = frozenset(
    {TaskStatus.PENDING, TaskStatus.DISABLED, TaskStatus.COMPLETED, TaskStatus.FAILED}
)
TASK_RUNNING_REFUSED = (
    "running is set by the scheduler when it runs the task: use POST /api/tasks/{id}/run."
)


def _check_settable(status):
    if status not in TASK_SETTABLE_STATUSES:
        raise ValidationError(
            {"status": TASK_RUNNING_REFUSED if status == TaskStatus.RUNNING else "Not a status."}
        )


def task_check_skill_allowed(
    *, owner, data, committed_skill_name=None, committed_status=None
) -> None:
    """Raises a ValidationError on skill_name when the write `data` (a new task's fields, or the
    fields an update sets on a task stored with `committed_skill_name` and `committed_status`)
    would let `owner` schedule a skill they may not use (skills.Skill.refusal): a new task, a
    new skill, or the status set back to pending. Anything else (disabling such a task, a new
    cron) stays allowed: the scheduler refuses to run it anyway. The API's and the admin's task
    writes both go through it."""
    skill_name = data.get("skill_name", committed_skill_name)
    resumed = data.get("status") == TaskStatus.PENDING and committed_status != TaskStatus.PENDING
    registered = get_skill(skill_name)
    # An unknown skill is validate_skill_name's to report.
    if registered is None or (skill_name == committed_skill_name and not resumed):
        return
    refusal = registered.refusal(owner)
    if refusal is not None:
        raise ValidationError({"skill_name": ValidationError(refusal, code="skill_not_allowed")})


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
    """Creates `user`'s task in any status but running, which is the scheduler's to set (a
    ValidationError on `status`), with a skill `user` may use (task_check_skill_allowed); a
    pending one runs when due. next_run_at, unless given, is the cron's next time after now in
    `timezone`. The project's tasks_count goes up by one in the same transaction. A user who has
    TASKS_MAX_PER_USER tasks is refused (a ValidationError): the owner's row is locked first, so
    concurrent creates cannot pass the cap together."""
    _check_settable(status)
    task_check_skill_allowed(owner=user, data={"skill_name": skill_name, "status": status})
    get_user_model().objects.select_for_update(no_key=True).filter(pk=user.pk).values("pk").first()
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
    next_run_at set to None, as on create (a pending task without one would never be due), and a
    status set back to pending (no replay of the slots missed meanwhile). Any status but running
    may be set; on a task a worker is running, it takes effect when the run ends (pending: the
    run ends pending anyway; the others: the scheduler keeps them). A move to another project
    moves one from one tasks_count to the other. The task's row is locked first, so concurrent
    moves stay exact and a status change never interleaves with a claim or a run's end; it is
    read again under the lock (ScheduledTask.DoesNotExist when it was deleted meanwhile). Only
    the changed fields are written, so a claim the scheduler made meanwhile is never
    overwritten, and an update that changes nothing writes nothing. A new skill, or pending
    again, must be the owner's to use (task_check_skill_allowed): the owner's, not the rights of
    staff editing it."""
    lock_row(task, no_key=True)
    committed_project_id, committed_status, claimed_by, committed_skill_name, committed_run = (
        task.project_id,
        task.status,
        task.claimed_by,
        task.skill_name,
        task.next_run_at,
    )
    data = dict(data)
    schedule_changed = any(
        name in data and data[name] != getattr(task, name) for name in ("schedule_cron", "timezone")
    )
    resumed = False
    if "status" in data:
        _check_settable(data["status"])
    if data.keys() & {"skill_name", "status"}:  # else the owner need not be loaded
        task_check_skill_allowed(
            owner=task.user,
            data=data,
            committed_skill_name=committed_skill_name,
            committed_status=committed_status,
        )
    if "status" in data:
        if claimed_by and data["status"] == TaskStatus.PENDING:
            # A worker runs it: the claim stays the scheduler's, and the run ends pending.
            data["status"] = TaskStatus.RUNNING
        resumed = (
            not claimed_by
            and data["status"] == TaskStatus.PENDING
            and committed_status != TaskStatus.PENDING
        )
    changed = assign(task, data, updatable=TASK_UPDATABLE)
    # What the update changes is validated; a stored value an older rule allowed stays as it is.
    task.full_clean(exclude=[field.name for field in task._meta.fields if field.name not in data])
    recompute = ("next_run_at" in data and data["next_run_at"] is None) or (
        (schedule_changed or resumed) and "next_run_at" not in data
    )
    if recompute:
        task.next_run_at = next_run(task.schedule_cron, task.timezone, now())
    if task.next_run_at == committed_run:
        changed.discard("next_run_at")  # a null given and recomputed to the same slot
    else:
        changed.add("next_run_at")
    if not changed:
        return task  # nothing to write: updated_at stays
    task.save(update_fields=[*sorted(changed), "updated_at"])
    if task.project_id != committed_project_id:
        adjust_tasks_count({committed_project_id: -1, task.project_id: 1})
    return task


@transaction.atomic
def task_delete(*, task: ScheduledTask) -> None:
    """Deletes a task and (cascade) its executions; its project's tasks_count goes down by one.
    The row is locked and read again first, so the audit records the values it had; a task
    deleted by a concurrent transaction raises ScheduledTask.DoesNotExist."""
    lock_row(task)
    task.delete()
    adjust_tasks_count({task.project_id: -1})
