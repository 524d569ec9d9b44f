"""The scheduler: claims due tasks, runs their skills with a timeout, records every run.

One Scheduler per process (`manage.py run_scheduler`); any number of them may share a database.
The loop claims up to `batch_size` due tasks at a time (services.task_claim_due: owners in
turns, and at most TASKS_MAX_RUNNING_PER_USER of one owner's tasks running in all schedulers,
so one user's long runs never hold every slot of a worker whose batch is larger than that),
runs each claimed skill in its own daemon thread, and records outcomes in batches as they come
in (execution_finish). A skill that overruns its timeout is recorded as `timeout` and its thread
is abandoned: Python cannot kill a thread, so it runs on in the background until it returns, but
it no longer holds a slot and the worker goes on. Expired leases of other (dead) workers are
reclaimed once per reap interval. stop() (SIGTERM) stops claiming, waits for the running skills
up to the grace period, records the stragglers as cancelled and releases their tasks.

Every SCHEDULER_HEARTBEAT_SECONDS the loop records its heartbeat (services.heartbeats: its last
loop and the due tasks waiting, shown by /health/scheduler and the events dashboard) and records
an error event for any other scheduler silent for SCHEDULER_STALE_AFTER_SECONDS; a clean stop
is recorded too. A task whose claim cannot be prepared fails alone (services.task_claim_due), as
does one whose run cannot be started: the others of the batch run.

With a seal interval (run_scheduler: AUDIT_SEAL_INTERVAL_SECONDS), a thread of the scheduler seals
the audit log that often (audit.sealing.audit_seal, the service of `seal_audit` and of the skill
audit.seal), apart from the loop, so neither a long seal delays claims nor a busy loop delays
sealing. Of several schedulers, whichever takes the checkpoint writers' lock seals; the others
skip that turn, so one seals at a time and no record is sealed twice.

A task runs with its owner's rights: before each run its owner must still be allowed the skill
(else the run fails, saying why, and nothing runs), and what the skill writes is audited with
the owner as the user and the scheduler as the means. A skill that raises leaves its type and
message in error_text; the traceback goes to the log and to traceback_text, for staff only.
"""

import contextvars
import logging
import queue
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connections
from django.utils import timezone

from audit.sealing import audit_seal
from brain.context import audit_on_behalf_of

from .models import ExecutionStatus
from .selectors import task_next_due_at, task_owner_in_bulk
from .services import (
    Claim,
    Outcome,
    execution_finish,
    recordable_text,
    scheduler_heartbeat_record,
    scheduler_heartbeat_stop,
    scheduler_report_stale,
    task_claim_due,
    task_reclaim_expired,
)
from .skills import get_skill

logger = logging.getLogger("scheduling.scheduler")

# Expired leases are looked for at most this often (seconds), whatever the poll interval.
MIN_REAP_INTERVAL = 1.0
# The shortest idle wait (seconds), so schedulers never spin on each other's locked rows.
MIN_IDLE_WAIT = 0.01
# The audit's user agent on what a skill writes: the owner is the user, the scheduler the means.
AUDIT_MEANS = "system:scheduler"


def _error_summary(error):
    """What the owner is told of an exception: `ValueError: message` (the type's name alone
    without a message), never a traceback with the server's paths."""
    message = str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


@dataclass(frozen=True)
class _Run:
    claim: Claim
    started: float  # time.monotonic() when the run was claimed
    deadline: float


class Scheduler:
    """Runs due tasks until stop() is called (or, with once=True, until none is due)."""

    def __init__(
        self,
        *,
        worker_id,
        poll_interval=0.5,
        batch_size=10,
        grace_period=30.0,
        lease_margin=30.0,
        seal_interval=None,
        clock=timezone.now,
    ):
        self.worker_id = worker_id
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.grace_period = grace_period
        self.lease_margin = lease_margin
        self.seal_interval = seal_interval
        self.clock = clock
        self._stopping = threading.Event()
        # SimpleQueue.put is reentrant, so stop() may use it from a signal handler.
        self._results = queue.SimpleQueue()
        self._running = {}  # execution id -> _Run
        self._finished = []  # Outcomes not yet recorded

    def stop(self, signum=None, frame=None):
        """Asks the loop to stop claiming and shut down. Safe to call from a signal handler."""
        self._stopping.set()
        self._results.put(None)

    def run(self, *, once=False):
        """The loop. Returns after a shutdown (stop()) or, with once=True, when no task is due
        and nothing runs. Errors (the database gone, a bad row) are logged and the loop goes on
        after the poll interval."""
        logger.info(
            "scheduler started",
            extra={"worker": self.worker_id, "batch_size": self.batch_size, "once": once},
        )
        if self.batch_size <= settings.TASKS_MAX_RUNNING_PER_USER:
            logger.warning(
                "one user's runs may take every slot of this worker: its batch size is not "
                "above TASKS_MAX_RUNNING_PER_USER",
                extra={
                    "worker": self.worker_id,
                    "batch_size": self.batch_size,
                    "tasks_max_running_per_user": settings.TASKS_MAX_RUNNING_PER_USER,
                },
            )
        last_reap = last_beat = None
        started_at = timezone.now()
        sealer = None
        if self.seal_interval is not None:
            sealer = threading.Thread(target=self._seal_loop, name="audit-sealer", daemon=True)
            sealer.start()
        while not self._stopping.is_set():
            try:
                if last_beat is None or (
                    time.monotonic() - last_beat >= settings.SCHEDULER_HEARTBEAT_SECONDS
                ):
                    last_beat = time.monotonic()
                    self._beat(started_at)
                if last_reap is None or time.monotonic() - last_reap >= self._reap_interval:
                    self._reap()
                    last_reap = time.monotonic()
                free = self.batch_size - len(self._running)
                claimed = self._claim(free) if free > 0 else 0
                if once and not claimed and not self._running:
                    break
                # After a full claim more may be due: go round as soon as a slot frees. Else
                # nothing else is due yet: sleep until the next task falls due, at most a poll.
                idle = free > 0 and claimed < free
                self._collect(timeout=self._wait_time(idle=idle))
                self._record()
            except (DatabaseError, InterfaceError):
                logger.exception("scheduler database error", extra={"worker": self.worker_id})
                connections.close_all()
                self._stopping.wait(self.poll_interval)
            except Exception:
                # One bad row must not stop every scheduler: log it and go on.
                logger.exception("scheduler error", extra={"worker": self.worker_id})
                self._stopping.wait(self.poll_interval)
        self._shutdown()
        if sealer is not None:
            self._stopping.set()  # a run with once=True ends without stop()
            sealer.join()
        try:
            scheduler_heartbeat_stop(worker=self.worker_id, now=timezone.now())
        except (DatabaseError, InterfaceError):
            logger.exception(
                "scheduler could not record its stop", extra={"worker": self.worker_id}
            )
        logger.info("scheduler stopped", extra={"worker": self.worker_id})

    def _seal_loop(self):
        """Seals the audit log every seal interval until the scheduler stops, unless another
        sealer holds the lock; an error is logged and the next turn tries again."""
        while True:
            try:
                audit_seal(wait=False)
            except Exception:
                logger.exception("audit sealing failed", extra={"worker": self.worker_id})
            finally:
                connections.close_all()  # this thread's connection goes back to the pool
            if self._stopping.wait(self.seal_interval):
                return

    def _beat(self, started_at):
        """Records this scheduler's heartbeat (wall-clock time: what the health check compares
        with), and reports the other schedulers gone silent."""
        now = timezone.now()
        scheduler_heartbeat_record(worker=self.worker_id, started_at=started_at, now=now)
        stale = scheduler_report_stale(
            now=now, stale_after=timedelta(seconds=settings.SCHEDULER_STALE_AFTER_SECONDS)
        )
        for heartbeat in stale:
            logger.error(
                "scheduler stale",
                extra={"worker": self.worker_id, "stale_worker": heartbeat.worker},
            )

    @property
    def _reap_interval(self):
        return max(self.poll_interval, MIN_REAP_INTERVAL)

    def _wait_time(self, *, idle=False):
        """Seconds to wait for a run to finish: a poll interval at most, less when a running
        skill's timeout or (when idle) the next task's due time comes first."""
        wait = self.poll_interval
        if self._running:
            nearest = min(run.deadline for run in self._running.values())
            wait = min(wait, nearest - time.monotonic())
        if idle:
            next_due = task_next_due_at()
            if next_due is not None:
                # A task already due is being claimed by another scheduler: look again shortly.
                due_in = (next_due - self.clock()).total_seconds()
                wait = min(wait, max(due_in, MIN_IDLE_WAIT))
        return max(0.0, wait)

    def _reap(self):
        closed = task_reclaim_expired(worker=self.worker_id, now=self.clock())
        if closed:
            logger.warning(
                "reclaimed expired leases",
                extra={"worker": self.worker_id, "execution_ids": closed},
            )

    def _claim(self, limit):
        started = time.monotonic()
        claims = task_claim_due(
            worker=self.worker_id,
            limit=limit,
            now=self.clock(),
            lease_margin_seconds=self.lease_margin,
        )
        owners = task_owner_in_bulk(user_ids={claim.user_id for claim in claims})
        for claim in claims:
            run = _Run(claim=claim, started=started, deadline=started + claim.timeout_seconds)
            try:
                refusal = self._refusal(claim, owners.get(claim.user_id))
            except Exception as error:
                # This task alone fails, saying why; the others of the batch run.
                logger.exception(
                    "run could not be started",
                    extra={"worker": self.worker_id, "task_id": claim.task_id},
                )
                refusal = f"The run could not be started: {_error_summary(error)}. Nothing ran."
            if refusal is not None:
                self._finished.append(
                    self._unfinished(run, ExecutionStatus.FAILED, refusal, task_failed=True)
                )
                continue
            self._running[claim.execution_id] = run
            # The thread inherits the context (the audit actor among others).
            threading.Thread(
                target=contextvars.copy_context().run,
                args=(self._run_skill, run),
                name=f"skill-{claim.skill_name}-{claim.execution_id}",
                daemon=True,
            ).start()
        return len(claims)

    @staticmethod
    def _refusal(claim, owner):
        """Why the claimed task may not run now (its skill is gone, or its owner was deleted,
        deactivated or lost the skill's permission since it was scheduled), or None."""
        registered = get_skill(claim.skill_name)
        if registered is None:
            return f"No skill named {claim.skill_name!r} is registered."
        if owner is None:
            return "The task's owner no longer exists. Nothing ran."
        refusal = registered.refusal(owner)
        return None if refusal is None else f"{refusal} Nothing ran."

    def _run_skill(self, run):
        """Runs one skill in its own thread, its writes audited as its owner's through the
        scheduler, and reports the Outcome; never raises."""
        claim = run.claim
        status, output, error, details = ExecutionStatus.SUCCESS, "", "", ""
        try:
            with audit_on_behalf_of(
                claim.user_id, means=AUDIT_MEANS, reference=f"execution:{claim.execution_id}"
            ):
                result = get_skill(claim.skill_name).function(claim.params)
            output = "" if result is None else str(result)
        except Exception as exception:
            status, error, details = (
                ExecutionStatus.FAILED,
                _error_summary(exception),
                traceback.format_exc(),
            )
            logger.exception(
                "skill raised",
                extra={
                    "worker": self.worker_id,
                    "task_id": claim.task_id,
                    "execution_id": claim.execution_id,
                    "skill": claim.skill_name,
                },
            )
        finally:
            # The skill's own database connections (this thread's) go back to the pool.
            connections.close_all()
        self._results.put(
            Outcome(
                claim=claim,
                status=status,
                # Cut here already, so a skill's huge output is not held until it is recorded.
                output_text=recordable_text(output),
                error_text=recordable_text(error),
                duration_ms=int((time.monotonic() - run.started) * 1000),
                traceback_text=recordable_text(details, keep="tail"),
            )
        )

    def _collect(self, *, timeout):
        """Moves finished and overdue runs to the outcomes to record, waiting up to `timeout`
        seconds for the first one."""
        items = []
        try:
            items.append(
                self._results.get(timeout=timeout) if timeout > 0 else self._results.get_nowait()
            )
            while True:
                items.append(self._results.get_nowait())
        except queue.Empty:
            pass
        for outcome in items:
            # None is stop()'s wake-up call; an unknown id is an abandoned run finishing late.
            if outcome is not None and self._running.pop(outcome.claim.execution_id, None):
                self._finished.append(outcome)
        now = time.monotonic()
        for execution_id, run in list(self._running.items()):
            if now >= run.deadline:
                del self._running[execution_id]
                self._finished.append(
                    self._unfinished(
                        run,
                        ExecutionStatus.TIMEOUT,
                        f"The skill exceeded its timeout of {run.claim.timeout_seconds} s and was "
                        f"abandoned; the worker went on.",
                    )
                )

    @staticmethod
    def _unfinished(run, status, reason, *, task_failed=False):
        return Outcome(
            claim=run.claim,
            status=status,
            output_text="",
            error_text=reason,
            duration_ms=int((time.monotonic() - run.started) * 1000),
            task_failed=task_failed,
        )

    def _record(self):
        """Records the finished runs in one transaction. When that fails for another reason than
        the database being unreachable (the database refuses one outcome, say), each is recorded
        on its own: one that fails alone is logged and dropped (its lease expires and another
        loop reclaims it as failed), and the others are recorded. Outcomes not recorded because
        the database is unreachable wait for the next round."""
        if not self._finished:
            return
        try:
            recorded, waiting = self._record_outcomes(self._finished), []
        except (OperationalError, InterfaceError):
            raise  # all of them are recorded once the database answers again
        except Exception:
            recorded, waiting = self._record_each()
        recorded_ids = {outcome.claim.execution_id for outcome in recorded}
        waiting_ids = {outcome.claim.execution_id for outcome in waiting}
        for outcome in self._finished:
            if outcome.claim.execution_id not in waiting_ids:
                self._log(outcome, recorded=outcome.claim.execution_id in recorded_ids)
        self._finished = waiting

    def _record_outcomes(self, outcomes):
        return execution_finish(worker=self.worker_id, outcomes=outcomes, now=self.clock())

    def _record_each(self):
        recorded, waiting = [], []
        for outcome in self._finished:
            try:
                recorded += self._record_outcomes([outcome])
            except (OperationalError, InterfaceError):
                waiting.append(outcome)
            except Exception:
                logger.exception(
                    "task run could not be recorded; its lease will expire and be reclaimed",
                    extra={
                        "worker": self.worker_id,
                        "task_id": outcome.claim.task_id,
                        "execution_id": outcome.claim.execution_id,
                    },
                )
        return recorded, waiting

    def _log(self, outcome, *, recorded):
        claim = outcome.claim
        fields = {
            "worker": self.worker_id,
            "task_id": claim.task_id,
            "execution_id": claim.execution_id,
            "skill": claim.skill_name,
            "status": outcome.status,
            "duration_ms": outcome.duration_ms,
            "scheduled_for": claim.scheduled_for.isoformat(),
            "delay_ms": int((claim.started_at - claim.scheduled_for).total_seconds() * 1000),
            "coalesced": bool(claim.note),
        }
        if recorded:
            logger.info("task run", extra=fields)
        else:
            logger.warning(
                "task run not recorded: its lease was reclaimed or its execution closed meanwhile",
                extra=fields,
            )

    def _shutdown(self):
        """Waits up to the grace period for running skills, records them, then records the rest
        as cancelled and releases their tasks."""
        grace_deadline = time.monotonic() + self.grace_period
        try:
            while self._running and time.monotonic() < grace_deadline:
                self._collect(timeout=min(self._wait_time(), grace_deadline - time.monotonic()))
                self._record()
            for run in self._running.values():
                self._finished.append(
                    self._unfinished(
                        run,
                        ExecutionStatus.CANCELLED,
                        f"The scheduler stopped before the skill finished (grace period of "
                        f"{self.grace_period:g} s); the task was released to its next slot.",
                    )
                )
            self._running.clear()
            self._record()
        except (DatabaseError, InterfaceError):
            # The leases expire and another scheduler reclaims the tasks.
            logger.exception(
                "scheduler could not release its tasks", extra={"worker": self.worker_id}
            )
