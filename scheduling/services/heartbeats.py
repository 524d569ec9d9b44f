"""The schedulers' heartbeats: each records its last loop, and a scheduler gone quiet is recorded
as an error event, once, by the first running scheduler to notice at its heartbeat (a peer, or
the next one started)."""

from datetime import datetime, timedelta

from django.db import transaction

from events.models import Severity
from events.services import event_create

from ..models import SchedulerHeartbeat
from ..selectors import task_due_count

SCHEDULER_STALE = "scheduler_stale"
SOURCE = "scheduler"
# A heartbeat this old is forgotten: a worker id (host:pid) does not come back after a restart.
FORGOTTEN_AFTER = timedelta(days=1)


def scheduler_heartbeat_record(*, worker: str, started_at: datetime, now: datetime) -> int:
    """Records that `worker` looped at `now`, with the due tasks waiting then (one count over the
    (status, next_run_at) index and one INSERT ... ON CONFLICT UPDATE). A scheduler reported
    stale or stopped is running again. Returns the due tasks waiting."""
    due_waiting = task_due_count(now=now)
    SchedulerHeartbeat.objects.bulk_create(
        [
            SchedulerHeartbeat(
                worker=worker,
                started_at=started_at,
                last_loop_at=now,
                due_waiting=due_waiting,
                stopped_at=None,
                reported_stale_at=None,
            )
        ],
        update_conflicts=True,
        unique_fields=["worker"],
        update_fields=[
            "started_at",
            "last_loop_at",
            "due_waiting",
            "stopped_at",
            "reported_stale_at",
        ],
    )
    return due_waiting


def scheduler_heartbeat_stop(*, worker: str, now: datetime) -> None:
    """Records that `worker` stopped cleanly (a shutdown, or --once with nothing left to do)."""
    SchedulerHeartbeat.objects.filter(worker=worker).update(stopped_at=now)


def scheduler_report_stale(*, now: datetime, stale_after: timedelta) -> list[SchedulerHeartbeat]:
    """Records an error event `scheduler_stale` for each scheduler that has not looped for
    `stale_after` and did not stop cleanly, once per silence (the row is marked, under a row
    lock that concurrent callers skip, in the event's transaction). Forgets heartbeats older than
    FORGOTTEN_AFTER. Returns the schedulers reported."""
    with transaction.atomic():
        SchedulerHeartbeat.objects.filter(last_loop_at__lt=now - FORGOTTEN_AFTER).delete()
        stale = list(
            SchedulerHeartbeat.objects.select_for_update(skip_locked=True)
            .filter(
                stopped_at__isnull=True,
                reported_stale_at__isnull=True,
                last_loop_at__lt=now - stale_after,
            )
            .order_by("worker")
        )
        for heartbeat in stale:
            heartbeat.reported_stale_at = now
            heartbeat.save(update_fields=["reported_stale_at"])
            silent = int((now - heartbeat.last_loop_at).total_seconds())
            event_create(
                event_type=SCHEDULER_STALE,
                severity=Severity.ERROR,
                message=(
                    f"Scheduler {heartbeat.worker} has not looped for {silent} s (last loop "
                    f"{heartbeat.last_loop_at.isoformat()}): it died or hangs. "
                    f"{heartbeat.due_waiting} due task(s) were waiting then."
                ),
                details={
                    "worker": heartbeat.worker,
                    "last_loop_at": heartbeat.last_loop_at.isoformat(),
                    "due_waiting": heartbeat.due_waiting,
                },
                source=SOURCE,
            )
    return stale
