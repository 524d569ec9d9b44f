"""The schedulers' heartbeats: each records its last loop and the due tasks waiting;
/health/scheduler and the events dashboard show them; a scheduler gone silent shows as unhealthy
and is recorded as one error event."""

import re
import signal
from datetime import UTC, datetime, timedelta

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from audit.models import AuditLog
from events.models import SystemEvent
from scheduling.models import SchedulerHeartbeat
from scheduling.scheduler import Scheduler
from scheduling.services import scheduler_heartbeat_record, scheduler_report_stale

from .scheduler_support import make_task, running_clock, start_scheduler, wait_for, wait_started

pytestmark = pytest.mark.django_db(transaction=True)  # scheduler processes on the test database

NOW = datetime(2026, 6, 1, 12, 2, 30, tzinfo=UTC)
DASHBOARD = "/admin/events/dashboard/"


def json_time(value):
    """A time as the health endpoint's JSON gives it (Django's encoder: milliseconds, Z)."""
    return DjangoJSONEncoder().default(value)


def stale_events():
    return list(
        SystemEvent.objects.filter(event_type="scheduler_stale").values_list(
            "severity", "source", "details"
        )
    )


def test_a_scheduler_records_its_loop_and_its_stop(client, user):
    make_task(user, next_run_at=NOW)
    make_task(user, next_run_at=NOW + timedelta(days=365))
    before = timezone.now()

    Scheduler(worker_id="w-once", poll_interval=0.05, clock=running_clock(NOW)).run(once=True)

    heartbeat = SchedulerHeartbeat.objects.get()
    assert heartbeat.worker == "w-once"
    assert before <= heartbeat.started_at <= heartbeat.last_loop_at <= heartbeat.stopped_at
    assert heartbeat.due_waiting == 1  # at its first loop, before it claimed the due task
    response = client.get("/health/scheduler")
    assert (response.status_code, response.json()["status"]) == (503, "unhealthy")
    assert response.json()["schedulers"] == [
        {
            "worker": "w-once",
            "state": "stopped",
            "started_at": json_time(heartbeat.started_at),
            "last_loop_at": json_time(heartbeat.last_loop_at),
            "stopped_at": json_time(heartbeat.stopped_at),
            "due_waiting": 1,
        }
    ]
    assert stale_events() == []  # a clean stop is no error


def test_a_killed_scheduler_shows_unhealthy_and_the_next_scheduler_records_it_once(
    client, admin_client, user, tmp_path, settings, monkeypatch
):
    monkeypatch.setenv("SCHEDULER_HEARTBEAT_SECONDS", "0.1")  # the scheduler processes'
    monkeypatch.setenv("SCHEDULER_STALE_AFTER_SECONDS", "3")
    settings.SCHEDULER_STALE_AFTER_SECONDS = 3.0  # 30 heartbeats: no false alarm under load
    make_task(user, next_run_at=timezone.now() + timedelta(days=365))
    log = tmp_path / "victim.log"
    process = start_scheduler(log, "--worker-id", "victim", "--poll-interval", "0.05")
    try:
        wait_started([log])
        running = wait_for(
            lambda: (answer := client.get("/health/scheduler")).status_code == 200 and answer,
            timeout=10,
            message="the scheduler's heartbeat",
        )
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
    last_loop_at = SchedulerHeartbeat.objects.get().last_loop_at

    stale = wait_for(
        lambda: (answer := client.get("/health/scheduler")).status_code == 503 and answer,
        timeout=15,
        message="the heartbeat to go stale",
    )
    dashboard = admin_client.get(DASHBOARD).content.decode()
    recorded_by_probes = stale_events()
    successor = start_scheduler(tmp_path / "successor.log", "--worker-id", "successor", "--once")
    assert successor.wait(timeout=30) == 0
    again = client.get("/health/scheduler")

    assert running.json()["status"] == "ok"
    assert [s["state"] for s in running.json()["schedulers"]] == ["running"]
    assert stale.json()["status"] == "unhealthy"
    assert [(s["worker"], s["state"]) for s in stale.json()["schedulers"]] == [
        ("victim", "unhealthy")
    ]
    assert stale.json()["last_loop_at"] == json_time(last_loop_at)
    assert 'id="scheduler-status" data-status="unhealthy"' in dashboard
    assert re.search(r'data-worker="victim" data-state="unhealthy"', dashboard)
    assert recorded_by_probes == []  # the health check and the dashboard only read
    # One error event for the silence, recorded by the scheduler started after it.
    assert stale_events() == [
        (
            "error",
            "scheduler",
            {"worker": "victim", "last_loop_at": last_loop_at.isoformat(), "due_waiting": 0},
        )
    ]
    event = SystemEvent.objects.get(event_type="scheduler_stale")
    assert event.message.startswith("Scheduler victim has not looped for ")
    record = AuditLog.objects.get(table_name="system_events", record_id=str(event.pk))
    assert record.user_id == "system:scheduler"
    assert [(s["worker"], s["state"]) for s in again.json()["schedulers"]] == [
        ("successor", "stopped"),
        ("victim", "unhealthy"),
    ]


def test_a_running_scheduler_reports_another_gone_silent(user):
    silent_since = timezone.now() - timedelta(minutes=5)
    scheduler_heartbeat_record(worker="dead", started_at=silent_since, now=silent_since)

    Scheduler(worker_id="alive", poll_interval=0.05, clock=running_clock(NOW)).run(once=True)

    assert stale_events() == [
        (
            "error",
            "scheduler",
            {"worker": "dead", "last_loop_at": silent_since.isoformat(), "due_waiting": 0},
        )
    ]


def test_a_silent_scheduler_that_loops_again_is_reported_again_only_after_a_new_silence():
    stale_after = timedelta(minutes=1)
    start = timezone.now() - timedelta(minutes=10)
    scheduler_heartbeat_record(worker="w", started_at=start, now=start)

    first = scheduler_report_stale(now=timezone.now(), stale_after=stale_after)
    repeated = scheduler_report_stale(now=timezone.now(), stale_after=stale_after)
    scheduler_heartbeat_record(worker="w", started_at=start, now=timezone.now())
    recovered = scheduler_report_stale(now=timezone.now(), stale_after=stale_after)
    silent_again = scheduler_report_stale(
        now=timezone.now() + timedelta(minutes=2), stale_after=stale_after
    )

    assert [len(first), len(repeated), len(recovered), len(silent_again)] == [1, 0, 0, 1]
    assert len(stale_events()) == 2


def test_a_heartbeat_a_day_old_is_forgotten():
    long_ago = timezone.now() - timedelta(days=2)
    scheduler_heartbeat_record(worker="gone", started_at=long_ago, now=long_ago)

    assert scheduler_report_stale(now=timezone.now(), stale_after=timedelta(minutes=1)) == []
    assert not SchedulerHeartbeat.objects.exists()
