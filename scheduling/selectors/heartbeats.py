"""Reads of the schedulers' heartbeats and of the due tasks waiting for them."""

from datetime import datetime, timedelta

from ..models import ScheduledTask, SchedulerHeartbeat, TaskStatus

# A scheduler's state: looping, stopped cleanly, or silent for longer than the stale threshold.
SCHEDULER_RUNNING, SCHEDULER_STOPPED, SCHEDULER_UNHEALTHY = "running", "stopped", "unhealthy"


def task_due_count(*, now: datetime) -> int:
    """How many tasks are due (pending, next_run_at <= now) and wait to be claimed: one count
    over the (status, next_run_at) index."""
    return ScheduledTask.objects.filter(status=TaskStatus.PENDING, next_run_at__lte=now).count()


def scheduler_status(*, now: datetime, stale_after: timedelta) -> dict:
    """The schedulers' heartbeats, each with its state (running; stopped, cleanly; unhealthy:
    no loop for `stale_after`), newest loop first, the due tasks waiting now, and an overall
    status: ok when a scheduler runs and none is unhealthy, degraded when one runs and another
    is unhealthy, unhealthy when none runs. Two queries."""
    schedulers = []
    for heartbeat in SchedulerHeartbeat.objects.order_by("-last_loop_at", "worker"):
        if heartbeat.stopped_at is not None:
            state = SCHEDULER_STOPPED
        elif heartbeat.last_loop_at < now - stale_after:
            state = SCHEDULER_UNHEALTHY
        else:
            state = SCHEDULER_RUNNING
        schedulers.append(
            {
                "worker": heartbeat.worker,
                "state": state,
                "started_at": heartbeat.started_at,
                "last_loop_at": heartbeat.last_loop_at,
                "stopped_at": heartbeat.stopped_at,
                "due_waiting": heartbeat.due_waiting,
            }
        )
    states = {scheduler["state"] for scheduler in schedulers}
    if SCHEDULER_RUNNING not in states:
        status = "unhealthy"
    elif SCHEDULER_UNHEALTHY in states:
        status = "degraded"
    else:
        status = "ok"
    return {
        "status": status,
        "last_loop_at": max((s["last_loop_at"] for s in schedulers), default=None),
        "due_waiting": task_due_count(now=now),
        "stale_after_seconds": stale_after.total_seconds(),
        "schedulers": schedulers,
    }
