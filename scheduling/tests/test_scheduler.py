"""The scheduler engine in this process, on PostgreSQL, with a controlled clock: timeouts,
failures, coalescing, daylight saving, expired leases, skipped slots."""

import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from audit import chain
from audit.models import AuditCheckpoint, AuditLog
from audit.verification import audit_verify
from events.models import SystemEvent
from scheduling.cron import next_run
from scheduling.models import (
    EXECUTION_TEXT_MAX_LENGTH,
    ExecutionResult,
    ExecutionStatus,
    TaskStatus,
)
from scheduling.scheduler import Scheduler
from scheduling.services import recordable_text

from .scheduler_support import make_task, running_clock, scheduler_in_thread, wait_for

pytestmark = pytest.mark.django_db


def run_once(start, **options):
    options = {"worker_id": "test-worker", "poll_interval": 0.05, **options}
    Scheduler(clock=running_clock(start), **options).run(once=True)


NOW = datetime(2026, 6, 1, 12, 2, 30, tzinfo=UTC)
NEXT_SLOT = datetime(2026, 6, 1, 12, 5, tzinfo=UTC)  # of */5 after NOW


def test_a_due_task_runs_once_and_returns_to_pending_at_its_next_slot(user):
    task = make_task(
        user,
        params_json={"message": "hello"},
        cron="*/5 * * * *",
        next_run_at=datetime(2026, 6, 1, 12, 0, tzinfo=UTC),
    )

    run_once(NOW)

    execution = ExecutionResult.objects.get(task=task)
    assert execution.status == ExecutionStatus.SUCCESS
    assert execution.output_text == "hello"
    assert execution.error_text == ""
    assert execution.scheduled_for == datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    assert execution.worker == "test-worker"
    duration = timedelta(milliseconds=execution.duration_ms)
    assert execution.ended_at - execution.started_at == duration
    task.refresh_from_db()
    assert task.status == TaskStatus.PENDING
    assert task.next_run_at == NEXT_SLOT
    assert (task.claimed_by, task.lease_expires_at) == ("", None)


def test_a_task_not_yet_due_does_not_run(user):
    task = make_task(user, next_run_at=NOW + timedelta(seconds=30))

    run_once(NOW)

    assert not ExecutionResult.objects.exists()
    task.refresh_from_db()
    assert (task.status, task.next_run_at) == (TaskStatus.PENDING, NOW + timedelta(seconds=30))


def test_a_failing_skill_records_its_error_for_the_owner_its_traceback_for_staff_and_goes_on(
    user, caplog
):
    task = make_task(
        user,
        skill_name="demo.fail",
        params_json={"message": "disk on fire"},
        cron="*/5 * * * *",
        next_run_at=datetime(2026, 6, 1, 12, 0, tzinfo=UTC),
    )

    with caplog.at_level(logging.ERROR, logger="scheduling.scheduler"):
        run_once(NOW)

    execution = ExecutionResult.objects.get(task=task)
    assert execution.status == ExecutionStatus.FAILED
    assert execution.error_text == "RuntimeError: disk on fire"
    assert execution.traceback_text.startswith("Traceback (most recent call last):")
    assert "in fail\n    raise RuntimeError" in execution.traceback_text
    assert execution.traceback_text.endswith("RuntimeError: disk on fire\n")
    [logged] = [record for record in caplog.records if record.getMessage() == "skill raised"]
    assert (logged.task_id, logged.execution_id, logged.skill) == (
        task.pk,
        execution.pk,
        "demo.fail",
    )
    assert logged.exc_info[0] is RuntimeError
    task.refresh_from_db()
    assert (task.status, task.next_run_at) == (TaskStatus.PENDING, NEXT_SLOT)


def test_an_overrunning_skill_times_out_and_the_worker_goes_on(user):
    slow = make_task(
        user,
        skill_name="demo.sleep",
        params_json={"seconds": 2.5},
        timeout_seconds=1,
        next_run_at=NOW - timedelta(seconds=2),
    )
    quick = make_task(user, next_run_at=NOW - timedelta(seconds=1))

    run_once(NOW, batch_size=1)  # one slot: the quick task waits for the slow one's timeout

    timed_out = ExecutionResult.objects.get(task=slow)
    assert timed_out.status == ExecutionStatus.TIMEOUT
    assert timed_out.error_text == (
        "The skill exceeded its timeout of 1 s and was abandoned; the worker went on."
    )
    assert 1000 <= timed_out.duration_ms < 2000
    after = ExecutionResult.objects.get(task=quick)
    assert after.status == ExecutionStatus.SUCCESS
    assert after.started_at >= timed_out.started_at + timedelta(seconds=1)
    slow.refresh_from_db()
    assert (slow.status, slow.claimed_by) == (TaskStatus.PENDING, "")
    # The abandoned skill is still sleeping in its thread; it must not outlive the test.
    for thread in threading.enumerate():
        if thread.name.startswith("skill-demo.sleep-"):
            thread.join()


def test_a_task_missed_during_downtime_runs_once_and_says_so(user):
    task = make_task(user, cron="*/5 * * * *", next_run_at=datetime(2026, 6, 1, 11, 0, tzinfo=UTC))

    run_once(NOW)  # 12:02:30: the slots 11:05 ... 12:00 were missed too

    execution = ExecutionResult.objects.get(task=task)
    assert execution.scheduled_for == datetime(2026, 6, 1, 11, 0, tzinfo=UTC)
    assert execution.output_text == (
        "Coalesced: ran once for 12 missed slot(s) after 2026-06-01T11:00:00+00:00 "
        "(last 2026-06-01T12:00:00+00:00); missed slots are not replayed.\n"
    )
    task.refresh_from_db()
    assert task.next_run_at == NEXT_SLOT


def test_fall_back_runs_the_repeated_local_time_once(user):
    # 2026-11-01 in New York: 01:30 EDT (05:30 UTC), then 01:30 EST (06:30 UTC) again.
    task = make_task(
        user,
        cron="30 1 * * *",
        timezone="America/New_York",
        next_run_at=datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
    )

    run_once(datetime(2026, 11, 1, 5, 30, 1, tzinfo=UTC))
    task.refresh_from_db()
    assert task.next_run_at == datetime(2026, 11, 2, 6, 30, tzinfo=UTC)  # 01:30 EST, next day

    run_once(datetime(2026, 11, 1, 6, 30, 1, tzinfo=UTC))  # the second 01:30 of the 1st

    assert ExecutionResult.objects.filter(task=task).count() == 1


def test_spring_forward_runs_the_skipped_local_time_once_shifted(user):
    # 2026-03-29 in Berlin: 02:00 CET jumps to 03:00 CEST; 02:30 runs once, at 03:30 CEST.
    task = make_task(
        user,
        cron="30 2 * * *",
        timezone="Europe/Berlin",
        next_run_at=datetime(2026, 3, 28, 1, 30, tzinfo=UTC),
    )

    run_once(datetime(2026, 3, 28, 1, 30, 1, tzinfo=UTC))
    task.refresh_from_db()
    assert task.next_run_at == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)

    run_once(datetime(2026, 3, 29, 1, 30, 1, tzinfo=UTC))
    task.refresh_from_db()

    assert task.next_run_at == datetime(2026, 3, 30, 0, 30, tzinfo=UTC)  # 02:30 CEST
    assert list(
        ExecutionResult.objects.filter(task=task)
        .order_by("scheduled_for")
        .values_list("scheduled_for", flat=True)
    ) == [
        datetime(2026, 3, 28, 1, 30, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
    ]


def test_an_expired_lease_is_reclaimed_and_the_task_moves_to_its_next_slot(user):
    task = make_task(
        user,
        skill_name="demo.sleep",
        cron="*/5 * * * *",
        status=TaskStatus.RUNNING,
        next_run_at=datetime(2026, 6, 1, 11, 55, tzinfo=UTC),
        claimed_by="dead-worker",
        lease_expires_at=NOW - timedelta(seconds=1),
    )
    abandoned = ExecutionResult.objects.create(
        task=task,
        scheduled_for=task.next_run_at,
        started_at=NOW - timedelta(minutes=6),
        worker="dead-worker",
    )

    run_once(NOW)

    abandoned.refresh_from_db()
    assert abandoned.status == ExecutionStatus.FAILED
    assert abandoned.error_text.startswith(
        "Abandoned: the lease of worker 'dead-worker' expired at "
        "2026-06-01T12:02:29+00:00 before the run finished (worker killed or stalled). "
        "Reclaimed by 'test-worker'"
    )
    assert abandoned.duration_ms >= 6 * 60 * 1000
    task.refresh_from_db()
    assert (task.status, task.claimed_by, task.lease_expires_at) == (TaskStatus.PENDING, "", None)
    assert task.next_run_at == NEXT_SLOT
    assert ExecutionResult.objects.filter(task=task).count() == 1


def test_a_live_lease_is_left_alone(user):
    task = make_task(
        user,
        status=TaskStatus.RUNNING,
        next_run_at=NOW,
        claimed_by="busy-worker",
        lease_expires_at=NOW + timedelta(minutes=1),
    )
    running = ExecutionResult.objects.create(task=task, scheduled_for=NOW, worker="busy-worker")

    run_once(NOW)

    running.refresh_from_db()
    task.refresh_from_db()
    assert running.status is None
    assert (task.status, task.claimed_by) == (TaskStatus.RUNNING, "busy-worker")


def test_a_slot_that_already_ran_is_skipped_not_run_twice(user):
    slot = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    task = make_task(user, cron="*/5 * * * *", next_run_at=slot)
    ExecutionResult.objects.create(
        task=task,
        scheduled_for=slot,
        status=ExecutionStatus.SUCCESS,
        started_at=slot,
        ended_at=slot,
        duration_ms=0,
    )

    run_once(NOW)

    assert ExecutionResult.objects.filter(task=task).count() == 1
    task.refresh_from_db()
    assert (task.status, task.next_run_at) == (TaskStatus.PENDING, NEXT_SLOT)


def test_an_unknown_skill_fails_the_run_and_the_task(user):
    task = make_task(user, skill_name="no.such.skill", next_run_at=NOW)

    run_once(NOW)

    execution = ExecutionResult.objects.get(task=task)
    assert execution.status == ExecutionStatus.FAILED
    assert execution.error_text == "No skill named 'no.such.skill' is registered."
    assert execution.traceback_text == ""
    task.refresh_from_db()
    assert task.status == TaskStatus.FAILED


def test_a_cron_with_no_next_time_completes_the_task(user):
    task = make_task(user, cron="0 0 31 2 *", next_run_at=NOW)  # Feb 31: never again

    run_once(NOW)

    task.refresh_from_db()
    assert (task.status, task.next_run_at) == (TaskStatus.COMPLETED, None)
    assert ExecutionResult.objects.get(task=task).status == ExecutionStatus.SUCCESS


def test_a_batch_larger_than_the_claim_size_all_runs(user):
    tasks = [make_task(user, next_run_at=NOW - timedelta(seconds=i)) for i in range(25)]

    run_once(NOW, batch_size=4)

    assert ExecutionResult.objects.filter(status=ExecutionStatus.SUCCESS).count() == 25
    expected = next_run("0 0 1 1 *", "UTC", NOW)
    for task in tasks:
        task.refresh_from_db()
        assert (task.status, task.next_run_at) == (TaskStatus.PENDING, expected)


@pytest.mark.django_db(transaction=True)  # the scheduler thread must see the committed task
def test_an_idle_scheduler_wakes_when_the_next_task_falls_due_not_a_poll_later(user):
    scheduler = Scheduler(worker_id="test-worker", poll_interval=5)
    due = timezone.now() + timedelta(seconds=0.5)
    task = make_task(user, next_run_at=due)

    with scheduler_in_thread(scheduler) as thread:
        execution = wait_for(
            lambda: ExecutionResult.objects.filter(task=task, status__isnull=False).first(),
            timeout=5,
            message="the run",
        )

    assert not thread.is_alive()
    assert timedelta(0) <= execution.started_at - due < timedelta(seconds=0.2)


def test_texts_are_stored_without_nul_and_cut_to_length():
    long_text = "a" * EXECUTION_TEXT_MAX_LENGTH + "END"

    assert recordable_text("bad\x00byte", keep="head") == "bad\N{REPLACEMENT CHARACTER}byte"
    head = recordable_text(long_text, keep="head")
    tail = recordable_text(long_text, keep="tail")

    assert len(head) == len(tail) == EXECUTION_TEXT_MAX_LENGTH
    assert head.endswith("a\n[... cut ...]\n")
    assert tail.startswith("\n[... cut ...]\na") and tail.endswith("END")


def test_a_schedule_that_cannot_be_read_fails_its_task_and_the_others_run(user):
    broken = make_task(user, cron="not a cron", next_run_at=NOW - timedelta(seconds=1))
    healthy = make_task(user, next_run_at=NOW)

    run_once(NOW)

    broken.refresh_from_db()
    assert (broken.status, broken.claimed_by) == (TaskStatus.FAILED, "")
    assert_failed_before_running(broken, worker="test-worker")
    assert ExecutionResult.objects.get(task=healthy).status == ExecutionStatus.SUCCESS


def assert_failed_before_running(task, *, worker):
    """`task` has one failed execution saying why nothing ran, and an error event says so."""
    execution = ExecutionResult.objects.get(task=task)
    assert (execution.status, execution.duration_ms, execution.worker, execution.output_text) == (
        ExecutionStatus.FAILED,
        0,
        worker,
        "",
    )
    assert execution.error_text.startswith("The run could not be prepared: ")
    assert execution.error_text.endswith(
        ". Nothing ran; the task failed (enable it once it is fixed)."
    )
    event = SystemEvent.objects.get(event_type="scheduler_task_failed")
    assert (event.severity, event.source, event.details) == (
        "error",
        "scheduler",
        {"task_id": task.pk, "execution_id": execution.pk, "worker": worker},
    )
    assert event.message == (
        f"Task {task.pk} ({task.skill_name}) failed before it ran: {execution.error_text}"
    )


def test_a_run_the_database_refuses_to_record_leaves_the_others_recorded(user, caplog):
    refused = make_task(user, next_run_at=NOW, params_json={"message": "refused"})
    healthy = make_task(user, next_run_at=NOW, params_json={"message": "fine"})
    with connection.cursor() as cursor:  # both dropped with the test's transaction
        cursor.execute(
            "CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql"
            " AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER test_refuse BEFORE UPDATE ON execution_results FOR EACH ROW"
            f" WHEN (NEW.task_id = {refused.pk}) EXECUTE FUNCTION test_refuse()"
        )

    run_once(NOW)

    assert ExecutionResult.objects.get(task=healthy).status == ExecutionStatus.SUCCESS
    healthy.refresh_from_db()
    assert (healthy.status, healthy.next_run_at) == (
        TaskStatus.PENDING,
        next_run("0 0 1 1 *", "UTC", healthy.updated_at),
    )
    # Left open, claimed: its lease expires and a scheduler reclaims it as failed.
    assert ExecutionResult.objects.get(task=refused).status is None
    refused.refresh_from_db()
    assert (refused.status, refused.claimed_by) == (TaskStatus.RUNNING, "test-worker")
    assert "task run could not be recorded" in caplog.text


@pytest.mark.django_db(transaction=True)  # the sealer's thread reads committed records
def test_a_scheduler_with_a_seal_interval_seals_and_its_run_once_still_ends():
    event = SystemEvent.objects.create(event_type="x", severity="info", message="sealed")
    record = AuditLog.objects.get(table_name="system_events", record_id=str(event.pk))

    Scheduler(worker_id="w", poll_interval=0.05, seal_interval=0.05).run(once=True)

    sealed = [
        record_id
        for checkpoint in AuditCheckpoint.objects.filter(kind="seal")
        for record_id, _ in chain.locator_entries(checkpoint.records)
    ]
    assert record.pk in sealed
    assert audit_verify().ok
