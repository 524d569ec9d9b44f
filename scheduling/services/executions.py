"""Execution result writes."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.timezone import now

from brain.db.rows import lock_row
from brain.services import assign

from ..models import ExecutionResult, ExecutionStatus, ScheduledTask
from .common import milliseconds_between, save_or_conflict

EXECUTION_UPDATABLE = frozenset(
    {
        "task",
        "scheduled_for",
        "started_at",
        "ended_at",
        "status",
        "output_text",
        "error_text",
        "duration_ms",
        "worker",
    }
)


class ExecutionStateError(Exception):
    """The execution's committed state does not allow the action (it is already complete)."""


SLOT_TAKEN = "This task already has an execution for that slot."
ONE_RUN_PER_SLOT = "execution_results_one_run_per_slot"


def _check_slot_free(execution):
    """One run per (task, scheduled_for), reported on scheduled_for (model validation reports
    a two-field unique constraint without a field)."""
    if execution.scheduled_for is None:
        return
    others = ExecutionResult.objects.filter(
        task_id=execution.task_id, scheduled_for=execution.scheduled_for
    )
    if execution.pk is not None:
        others = others.exclude(pk=execution.pk)
    if others.exists():
        raise ValidationError({"scheduled_for": SLOT_TAKEN})


def _full_clean_but_slot(execution):
    # The slot constraint is _check_slot_free's (and, for a concurrent write, the database's):
    # full_clean would report it without a field.
    execution.full_clean(exclude={"scheduled_for"})


def _fill_duration(execution, *, duration_given):
    if (
        not duration_given
        and execution.ended_at is not None
        and execution.started_at is not None
        and execution.ended_at >= execution.started_at
    ):
        execution.duration_ms = milliseconds_between(execution.started_at, execution.ended_at)


@transaction.atomic
def execution_create(
    *,
    task: ScheduledTask,
    started_at: datetime | None = None,
    scheduled_for: datetime | None = None,
    ended_at: datetime | None = None,
    status: str | None = None,
    output_text: str = "",
    error_text: str = "",
    duration_ms: int | None = None,
    worker: str = "",
) -> ExecutionResult:
    """Records a run of `task`, normally as it starts (no status, ended_at or duration_ms). A
    final status given without ended_at ends the run now, as execution_complete does; ended_at
    without a final status is refused. When ended_at is given without duration_ms, duration_ms
    is computed from the two times."""
    if status is not None and ended_at is None:
        ended_at = now()
    execution = ExecutionResult(
        task=task,
        started_at=now() if started_at is None else started_at,
        scheduled_for=scheduled_for,
        ended_at=ended_at,
        status=status,
        output_text=output_text,
        error_text=error_text,
        duration_ms=duration_ms,
        worker=worker,
    )
    _fill_duration(execution, duration_given=duration_ms is not None)
    _check_slot_free(execution)
    _full_clean_but_slot(execution)
    save_or_conflict(
        execution,
        constraint=ONE_RUN_PER_SLOT,
        conflict_field="scheduled_for",
        conflict_message=SLOT_TAKEN,
    )
    return execution


@transaction.atomic
def execution_update(*, execution: ExecutionResult, data: dict) -> ExecutionResult:
    """Updates an execution; duration_ms follows started_at/ended_at unless `data` sets it. A
    final status is final: once set it cannot change (nor go back to none); given to a run
    without ended_at, it ends the run now, as execution_complete does. ended_at without a final
    status is refused. The row is locked and its committed status read, and only the changed
    fields are written, so a completion recorded meanwhile is never reverted by a stale copy
    (ExecutionResult.DoesNotExist when it was deleted meanwhile)."""
    lock_row(execution, no_key=True)
    committed_status = execution.status
    if committed_status is not None and "status" in data and data["status"] != committed_status:
        raise ValidationError(
            {"status": f"This execution is complete ({committed_status}): its status is final."}
        )
    assign(execution, data, updatable=EXECUTION_UPDATABLE)
    changed = set(data)
    if "status" in data and execution.status is not None and execution.ended_at is None:
        execution.ended_at = now()
        changed.add("ended_at")
    if {"started_at", "ended_at"} & changed:
        _fill_duration(execution, duration_given="duration_ms" in data)
        changed.add("duration_ms")
    _check_slot_free(execution)
    _full_clean_but_slot(execution)
    save_or_conflict(
        execution,
        constraint=ONE_RUN_PER_SLOT,
        conflict_field="scheduled_for",
        conflict_message=SLOT_TAKEN,
        update_fields=sorted(changed),
    )
    return execution


@transaction.atomic
def execution_delete(*, execution: ExecutionResult) -> None:
    """Deletes an execution, locked and read again first so its audit record holds the values it
    had (ExecutionResult.DoesNotExist when it was deleted meanwhile)."""
    lock_row(execution)
    execution.delete()


@transaction.atomic
def execution_complete(
    *,
    execution: ExecutionResult,
    status: str,
    output_text: str | None = None,
    error_text: str | None = None,
    ended_at: datetime | None = None,
) -> ExecutionResult:
    """Completes a run: sets the final status, ended_at (default now) and
    duration_ms (ended_at - started_at), and the output and error when given. The row is locked
    and read again, so an execution completes once: a second completion raises
    ExecutionStateError, and one deleted meanwhile ExecutionResult.DoesNotExist."""
    lock_row(execution, no_key=True)
    committed_status = execution.status
    if status not in ExecutionStatus.values:
        raise ValidationError(
            {"status": f"A final status is one of {', '.join(ExecutionStatus.values)}."}
        )
    if committed_status is not None:
        raise ExecutionStateError(f"This execution is already complete ({committed_status}).")
    ended_at = now() if ended_at is None else ended_at
    if ended_at < execution.started_at:
        raise ValidationError({"ended_at": "ended_at cannot be before started_at."})
    data = {
        "status": status,
        "ended_at": ended_at,
        "duration_ms": milliseconds_between(execution.started_at, ended_at),
    }
    if output_text is not None:
        data["output_text"] = output_text
    if error_text is not None:
        data["error_text"] = error_text
    assign(execution, data, updatable=EXECUTION_UPDATABLE)
    _full_clean_but_slot(execution)
    # Only what completing sets: an output or error written meanwhile and not given here stays.
    execution.save(update_fields=sorted(data))
    return execution
