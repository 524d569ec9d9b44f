"""The scheduler as deployed: `manage.py run_scheduler` processes on the committed test database
(transaction=True), several at once, killed with SIGKILL, stopped with SIGTERM."""

import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Count
from django.utils import timezone

from audit import chain
from audit.models import AuditCheckpoint, AuditLog, CheckpointKind
from audit.verification import audit_verify
from events.models import SystemEvent
from scheduling.cron import next_run
from scheduling.models import ExecutionResult, ExecutionStatus, ScheduledTask, TaskStatus

from .scheduler_support import make_task, start_scheduler, wait_for, wait_started

pytestmark = pytest.mark.django_db(transaction=True)

FAST = ["--poll-interval", "0.05"]


@pytest.fixture
def processes():
    """Scheduler processes started by a test; any still alive at the end are killed."""
    started = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def launch(processes, tmp_path, name, *arguments):
    process = start_scheduler(tmp_path / f"{name}.log", "--worker-id", name, *arguments)
    processes.append(process)
    return process


def make_due(tasks):
    due = ScheduledTask.objects.filter(pk__in=[task.pk for task in tasks])
    due.update(next_run_at=timezone.now())


def test_four_schedulers_run_each_of_500_due_tasks_exactly_once(user, processes, tmp_path):
    tasks = ScheduledTask.objects.bulk_create(
        ScheduledTask(
            user=user,
            skill_name="demo.echo",
            schedule_cron="0 0 1 1 *",
            params_json={"message": str(number)},
        )
        for number in range(500)
    )
    names = [f"worker-{number}" for number in range(4)]
    for name in names:
        launch(processes, tmp_path, name, *FAST)
    wait_started([tmp_path / f"{name}.log" for name in names])

    make_due(tasks)  # all 500 due at the same moment, with four schedulers polling
    wait_for(
        lambda: (
            ExecutionResult.objects.filter(status__isnull=False).count() == 500
            and not ScheduledTask.objects.filter(status=TaskStatus.RUNNING).exists()
        ),
        timeout=60,
        message="500 recorded runs",
    )
    for process in processes:
        process.send_signal(signal.SIGTERM)
    assert [process.wait(timeout=20) for process in processes] == [0, 0, 0, 0]

    executions = ExecutionResult.objects.all()
    assert executions.count() == 500
    assert executions.values("task_id").distinct().count() == 500
    assert set(executions.values_list("status", flat=True)) == {ExecutionStatus.SUCCESS}
    for execution in executions.select_related("task"):
        assert execution.output_text == execution.task.params_json["message"]
    workers = dict(executions.values_list("worker").annotate(runs=Count("id")))
    assert set(workers) <= set(names)
    assert len(workers) >= 2, workers  # the claim really was contended
    next_slot = next_run("0 0 1 1 *", "UTC", timezone.now())
    states = ScheduledTask.objects.values_list("status", "next_run_at", "claimed_by").distinct()
    assert list(states) == [(TaskStatus.PENDING, next_slot, "")]


def test_a_killed_worker_is_reclaimed_and_its_task_runs_at_the_next_slot(user, processes, tmp_path):
    task = make_task(
        user,
        skill_name="demo.sleep",
        cron="* * * * *",
        timeout_seconds=2,
        params_json={"seconds": 60},
    )
    victim = launch(processes, tmp_path, "victim", *FAST, "--lease-margin", "1")
    wait_started([tmp_path / "victim.log"])
    make_due([task])
    abandoned = wait_for(
        lambda: ExecutionResult.objects.filter(task=task).first(),
        timeout=10,
        message="the victim to start the run",
    )

    victim.send_signal(signal.SIGKILL)  # mid demo.sleep, before the 2 s timeout
    assert victim.wait(timeout=10) == -signal.SIGKILL
    task.refresh_from_db()
    assert (task.status, task.claimed_by) == (TaskStatus.RUNNING, "victim")

    launch(processes, tmp_path, "rescuer", *FAST)
    abandoned = wait_for(
        lambda: ExecutionResult.objects.filter(pk=abandoned.pk, status__isnull=False).first(),
        timeout=15,
        message="the rescuer to reclaim the expired lease",
    )
    reclaimed_at = abandoned.ended_at
    assert abandoned.status == ExecutionStatus.FAILED
    assert abandoned.error_text.startswith("Abandoned: the lease of worker 'victim' expired at ")
    assert "Reclaimed by 'rescuer'" in abandoned.error_text
    assert reclaimed_at >= task.lease_expires_at
    task.refresh_from_db()
    next_slot = next_run("* * * * *", "UTC", reclaimed_at)
    assert (task.status, task.next_run_at, task.claimed_by) == (TaskStatus.PENDING, next_slot, "")

    # The rescuer runs it at that slot (and, demo.sleep outlasting the timeout, times it out).
    rerun = wait_for(
        lambda: (
            ExecutionResult.objects.filter(task=task, status__isnull=False)
            .exclude(pk=abandoned.pk)
            .first()
        ),
        timeout=75,
        message="the run at the next slot",
    )
    assert (rerun.scheduled_for, rerun.worker) == (next_slot, "rescuer")
    assert rerun.status == ExecutionStatus.TIMEOUT
    assert rerun.started_at - next_slot < timedelta(seconds=1)


def test_sigterm_lets_the_running_skill_finish_then_exits_0(user, processes, tmp_path):
    task = make_task(user, skill_name="demo.sleep", cron="0 0 1 1 *", params_json={"seconds": 1.5})
    process = launch(processes, tmp_path, "graceful", *FAST, "--grace-period", "10")
    wait_started([tmp_path / "graceful.log"])
    make_due([task])
    wait_for(
        lambda: ExecutionResult.objects.filter(task=task).exists(),
        timeout=10,
        message="the run to start",
    )

    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=10) == 0
    execution = ExecutionResult.objects.get(task=task)
    assert (execution.status, execution.output_text) == (ExecutionStatus.SUCCESS, "Slept 1.5 s.")
    task.refresh_from_db()
    assert (task.status, task.claimed_by, task.lease_expires_at) == (TaskStatus.PENDING, "", None)
    assert task.next_run_at == next_run("0 0 1 1 *", "UTC", timezone.now())
    log = (tmp_path / "graceful.log").read_text()
    assert '"message": "task run"' in log and '"message": "scheduler stopped"' in log


def test_sigterm_past_the_grace_period_cancels_and_releases_the_task(user, processes, tmp_path):
    task = make_task(user, skill_name="demo.sleep", cron="0 0 1 1 *", params_json={"seconds": 60})
    other = make_task(user, next_run_at=None)
    process = launch(processes, tmp_path, "hurried", *FAST, "--grace-period", "0.5")
    wait_started([tmp_path / "hurried.log"])
    make_due([task])
    wait_for(
        lambda: ExecutionResult.objects.filter(task=task).exists(),
        timeout=10,
        message="the run to start",
    )

    process.send_signal(signal.SIGTERM)
    make_due([other])  # due after the signal: a stopping scheduler claims nothing new

    assert process.wait(timeout=10) == 0
    execution = ExecutionResult.objects.get(task=task)
    assert execution.status == ExecutionStatus.CANCELLED
    assert execution.error_text == (
        "The scheduler stopped before the skill finished (grace period of 0.5 s); "
        "the task was released to its next slot."
    )
    task.refresh_from_db()
    assert (task.status, task.claimed_by, task.lease_expires_at) == (TaskStatus.PENDING, "", None)
    assert task.next_run_at == datetime(timezone.now().year + 1, 1, 1, tzinfo=UTC)
    assert not ExecutionResult.objects.filter(task=other).exists()


def sealed_record_ids():
    """The record ids of every seal checkpoint, in sealed order (duplicates kept)."""
    return [
        record_id
        for checkpoint in AuditCheckpoint.objects.filter(kind=CheckpointKind.SEAL)
        for record_id, _ in chain.locator_entries(checkpoint.records)
    ]


def test_running_schedulers_seal_each_audited_write_once_within_seconds(
    processes, tmp_path, monkeypatch, settings
):
    monkeypatch.setenv("AUDIT_SIGNING_KEY", settings.AUDIT_SIGNING_KEY)  # the key tests verify
    names = ["sealer-1", "sealer-2"]
    for name in names:
        launch(processes, tmp_path, name, *FAST)
    wait_started([tmp_path / f"{name}.log" for name in names])

    first = SystemEvent.objects.create(event_type="x", severity="info", message="first")
    first_record = AuditLog.objects.get(table_name="system_events", record_id=str(first.pk))
    wait_for(
        lambda: first_record.pk in sealed_record_ids(),
        timeout=10,
        message="the first write to be sealed",
    )
    # A stream of writes over a few of the schedulers' seal turns.
    ends = time.monotonic() + 2.5
    while time.monotonic() < ends:
        SystemEvent.objects.create(event_type="x", severity="info", message="streamed")
    written = set(AuditLog.objects.values_list("pk", flat=True))
    wait_for(
        lambda: written <= set(sealed_record_ids()),
        timeout=10,
        message="every write to be sealed",
    )
    for process in processes:
        process.send_signal(signal.SIGTERM)
    assert [process.wait(timeout=20) for process in processes] == [0, 0]

    sealed = Counter(sealed_record_ids())
    assert set(sealed) == set(AuditLog.objects.values_list("pk", flat=True))
    assert max(sealed.values()) == 1
    assert AuditCheckpoint.objects.count() > 1
    assert audit_verify().ok
