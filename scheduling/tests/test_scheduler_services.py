"""The scheduler's state changes outside the loop: run now, disable, enable, and a task
disabled while it runs."""

from datetime import UTC, datetime, timedelta

import pytest

from scheduling import services
from scheduling.models import (
    EXECUTION_TEXT_MAX_LENGTH,
    ExecutionResult,
    ExecutionStatus,
    TaskStatus,
)
from scheduling.services import (
    Outcome,
    TaskStateError,
    execution_finish,
    task_claim_due,
    task_disable,
    task_enable,
    task_reclaim_expired,
    task_run_now,
)

from .scheduler_support import make_task

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 12, 2, 30, tzinfo=UTC)


def test_run_now_makes_the_task_due_at_once(user):
    task = make_task(user, next_run_at=NOW + timedelta(days=30))

    task_run_now(task=task, now=NOW)

    task.refresh_from_db()
    assert (task.status, task.next_run_at) == (TaskStatus.PENDING, NOW)


def test_run_now_of_a_completed_task_runs_it_once_more(user):
    task = make_task(user, status=TaskStatus.COMPLETED, next_run_at=None)

    task_run_now(task=task, now=NOW)

    task.refresh_from_db()
    assert (task.status, task.next_run_at) == (TaskStatus.PENDING, NOW)


@pytest.mark.parametrize(
    ("status", "message"),
    [(TaskStatus.RUNNING, "The task is running"), (TaskStatus.DISABLED, "The task is disabled")],
)
def test_run_now_is_refused_while_running_or_disabled(user, status, message):
    task = make_task(user, status=status, next_run_at=NOW + timedelta(days=1))

    with pytest.raises(TaskStateError, match=message):
        task_run_now(task=task, now=NOW)

    task.refresh_from_db()
    assert (task.status, task.next_run_at) == (status, NOW + timedelta(days=1))


def test_enable_computes_the_next_run_from_now_without_replaying(user):
    task = make_task(
        user, cron="*/5 * * * *", status=TaskStatus.DISABLED, next_run_at=NOW - timedelta(days=3)
    )

    task_enable(task=task, now=NOW)

    task.refresh_from_db()
    next_slot = datetime(2026, 6, 1, 12, 5, tzinfo=UTC)
    assert (task.status, task.next_run_at) == (TaskStatus.PENDING, next_slot)


def test_enable_leaves_a_pending_task_alone(user):
    task = make_task(user, next_run_at=NOW - timedelta(minutes=1))

    task_enable(task=task, now=NOW)

    task.refresh_from_db()
    assert (task.status, task.next_run_at) == (TaskStatus.PENDING, NOW - timedelta(minutes=1))


def test_disable_is_idempotent(user):
    task = make_task(user, next_run_at=NOW)

    task_disable(task=task)
    task_disable(task=task)

    task.refresh_from_db()
    assert (task.status, task.next_run_at) == (TaskStatus.DISABLED, NOW)


def test_a_task_disabled_while_it_runs_is_recorded_and_stays_disabled(user):
    task = make_task(user, cron="*/5 * * * *", next_run_at=datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    [claim] = task_claim_due(worker="w", limit=5, now=NOW, lease_margin_seconds=30)
    task_disable(task=task)

    execution_finish(
        worker="w",
        outcomes=[
            Outcome(
                claim=claim,
                status=ExecutionStatus.SUCCESS,
                output_text="done",
                error_text="",
                duration_ms=5,
            )
        ],
        now=NOW + timedelta(seconds=1),
    )

    task.refresh_from_db()
    assert (task.status, task.claimed_by, task.lease_expires_at) == (TaskStatus.DISABLED, "", None)
    assert ExecutionResult.objects.get(task=task).status == ExecutionStatus.SUCCESS


def test_enabling_a_task_disabled_mid_run_puts_it_back_under_its_claim(user):
    task = make_task(user, next_run_at=NOW)
    task_claim_due(worker="w", limit=5, now=NOW, lease_margin_seconds=30)
    task_disable(task=task)

    task_enable(task=task, now=NOW)

    task.refresh_from_db()
    assert (task.status, task.claimed_by) == (TaskStatus.RUNNING, "w")


def test_the_claim_sets_a_lease_of_timeout_plus_margin_and_opens_the_execution(user):
    task = make_task(user, timeout_seconds=60, next_run_at=NOW - timedelta(seconds=3))

    [claim] = task_claim_due(worker="w", limit=5, now=NOW, lease_margin_seconds=30)

    task.refresh_from_db()
    assert (task.status, task.claimed_by) == (TaskStatus.RUNNING, "w")
    assert task.lease_expires_at == NOW + timedelta(seconds=90)
    execution = ExecutionResult.objects.get(pk=claim.execution_id)
    assert (execution.status, execution.ended_at, execution.duration_ms) == (None, None, None)
    assert (execution.scheduled_for, execution.started_at, execution.worker) == (
        NOW - timedelta(seconds=3),
        NOW,
        "w",
    )


def test_a_finish_after_the_lease_was_reclaimed_changes_nothing(user):
    task = make_task(user, next_run_at=NOW)
    [claim] = task_claim_due(worker="w", limit=5, now=NOW, lease_margin_seconds=30)
    task.claimed_by = "other"
    task.save()

    recorded = execution_finish(
        worker="w",
        outcomes=[
            Outcome(
                claim=claim,
                status=ExecutionStatus.SUCCESS,
                output_text="late",
                error_text="",
                duration_ms=5,
            )
        ],
        now=NOW,
    )

    assert recorded == []
    assert ExecutionResult.objects.get(pk=claim.execution_id).status is None


def success(claim):
    return Outcome(
        claim=claim, status=ExecutionStatus.SUCCESS, output_text="ran", error_text="", duration_ms=5
    )


def test_a_finish_after_the_execution_was_completed_through_the_api_still_advances_the_task(user):
    task = make_task(user, cron="*/5 * * * *", next_run_at=datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    [claim] = task_claim_due(worker="w", limit=5, now=NOW, lease_margin_seconds=30)
    services.execution_complete(
        execution=ExecutionResult.objects.get(pk=claim.execution_id),
        status=ExecutionStatus.CANCELLED,
        output_text="stopped by hand",
        ended_at=NOW,
    )

    recorded = execution_finish(worker="w", outcomes=[success(claim)], now=NOW)

    assert recorded == []
    task.refresh_from_db()
    assert (task.status, task.claimed_by, task.lease_expires_at, task.next_run_at) == (
        TaskStatus.PENDING,
        "",
        None,
        datetime(2026, 6, 1, 12, 5, tzinfo=UTC),
    )
    execution = ExecutionResult.objects.get(pk=claim.execution_id)
    assert (execution.status, execution.output_text) == (
        ExecutionStatus.CANCELLED,
        "stopped by hand",
    )


def test_a_late_finish_leaves_a_newer_claim_of_the_same_worker_alone(user):
    task = make_task(user, cron="*/5 * * * *", next_run_at=datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    [stale] = task_claim_due(worker="w", limit=5, now=NOW, lease_margin_seconds=30)
    later = NOW + timedelta(minutes=10)
    task_reclaim_expired(worker="w", now=later)
    [fresh] = task_claim_due(
        worker="w", limit=5, now=later + timedelta(minutes=5), lease_margin_seconds=30
    )

    recorded = execution_finish(worker="w", outcomes=[success(stale)], now=later)

    assert recorded == []
    task.refresh_from_db()
    assert (task.status, task.claimed_by, task.next_run_at) == (
        TaskStatus.RUNNING,
        "w",
        datetime(2026, 6, 1, 12, 15, tzinfo=UTC),
    )
    assert ExecutionResult.objects.get(pk=fresh.execution_id).status is None


def _finish(claim, at):
    execution_finish(
        worker="w",
        outcomes=[
            Outcome(
                claim=claim,
                status=ExecutionStatus.SUCCESS,
                output_text="done",
                error_text="",
                duration_ms=5,
            )
        ],
        now=at,
    )


@pytest.mark.parametrize("status", [TaskStatus.DISABLED, TaskStatus.COMPLETED, TaskStatus.FAILED])
def test_a_status_set_while_the_task_runs_takes_effect_when_the_run_ends(user, status):
    task = make_task(user, cron="*/5 * * * *", next_run_at=datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    [claim] = task_claim_due(worker="w", limit=5, now=NOW, lease_margin_seconds=30)

    services.task_update(task=task, data={"status": status})
    task.refresh_from_db()
    during = (task.status, task.claimed_by)
    claimed_again = task_claim_due(worker="w2", limit=5, now=NOW, lease_margin_seconds=30)
    with pytest.raises(TaskStateError):
        task_run_now(task=task, now=NOW)
    _finish(claim, NOW + timedelta(seconds=1))

    task.refresh_from_db()
    assert during == (status, "w")
    assert claimed_again == []
    assert (task.status, task.claimed_by, task.lease_expires_at) == (status, "", None)
    assert ExecutionResult.objects.get(task=task).status == ExecutionStatus.SUCCESS


def test_pending_set_while_the_task_runs_keeps_the_claim_and_the_run_ends_pending(user):
    task = make_task(user, cron="*/5 * * * *", next_run_at=datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    [claim] = task_claim_due(worker="w", limit=5, now=NOW, lease_margin_seconds=30)
    services.task_update(task=task, data={"status": TaskStatus.DISABLED})

    services.task_update(task=task, data={"status": TaskStatus.PENDING})
    task.refresh_from_db()
    during = (task.status, task.claimed_by)
    claimed_again = task_claim_due(worker="w2", limit=5, now=NOW, lease_margin_seconds=30)
    _finish(claim, NOW + timedelta(seconds=1))

    task.refresh_from_db()
    assert during == (TaskStatus.RUNNING, "w")
    assert claimed_again == []
    assert (task.status, task.claimed_by, task.next_run_at) == (
        TaskStatus.PENDING,
        "",
        datetime(2026, 6, 1, 12, 5, tzinfo=UTC),
    )


def test_pending_set_on_a_disabled_task_runs_from_the_next_slot_after_now(user):
    task = make_task(
        user,
        cron="*/5 * * * *",
        status=TaskStatus.DISABLED,
        next_run_at=datetime(2020, 1, 1, tzinfo=UTC),
    )

    services.task_update(task=task, data={"status": TaskStatus.PENDING})

    task.refresh_from_db()
    assert task.status == TaskStatus.PENDING
    assert task.next_run_at > datetime.now(UTC)


def test_a_longest_output_after_a_missed_slots_note_is_recorded_within_the_bound(user):
    # The 11:00 slot runs at 12:02:30 with a note on the slots missed since, before the output.
    task = make_task(user, cron="*/5 * * * *", next_run_at=datetime(2026, 6, 1, 11, 0, tzinfo=UTC))
    [claim] = task_claim_due(worker="w", limit=5, now=NOW, lease_margin_seconds=30)
    output = "a" * EXECUTION_TEXT_MAX_LENGTH

    execution_finish(
        worker="w",
        outcomes=[
            Outcome(
                claim=claim,
                status=ExecutionStatus.SUCCESS,
                output_text=output,
                error_text="",
                duration_ms=5,
            )
        ],
        now=NOW,
    )

    recorded = ExecutionResult.objects.get(task=task).output_text
    assert len(recorded) == EXECUTION_TEXT_MAX_LENGTH
    assert recorded.startswith(claim.note + "aaa")
    assert recorded.endswith("a\n[... cut ...]\n")
