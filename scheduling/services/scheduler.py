"""The scheduler's writes: claiming due tasks, recording runs, reclaiming expired leases (the
operator's run-now / disable / enable are in task_state). Every function runs in one short
transaction and writes through the models' default manager (save, bulk_create, QuerySet.update),
so the audit app sees each change. Rows that get the same values share one UPDATE
(_update_alike): Django's bulk_update builds a CASE per field per row.

Lock order is always tasks first (by primary key), then their executions, so the scheduler's
transactions never deadlock with one another. The claim alone locks tasks in another order, but
it skips locked rows rather than wait for them, so it never waits on anyone.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.db import transaction

from events.models import Severity, SystemEvent
from events.services import event_create

from ..cron import next_run
from ..models import (
    EXECUTION_TEXT_MAX_LENGTH,
    ExecutionResult,
    ExecutionStatus,
    ScheduledTask,
    TaskStatus,
)

# How many missed slots the coalescing note counts at most: enough to describe any downtime.
MISSED_SLOTS_COUNTED = 1000
# What next_run raises for a cron (croniter's errors) or time zone (ZoneInfo's) that does not
# parse, or for a slot whose local time is out of datetime's range (a next_run_at set to year 1).
UNREADABLE_SCHEDULE = (ValueError, KeyError, OverflowError)
# The error event recorded when a due task fails before it runs.
TASK_NOT_RUN = "scheduler_task_failed"


@dataclass(frozen=True)
class Claim:
    """A task claimed for one run: what the runner needs, without touching the database."""

    task_id: int
    execution_id: int
    user_id: int  # the task's owner: the skill runs with their rights
    skill_name: str
    params: object
    timeout_seconds: int
    scheduled_for: datetime
    started_at: datetime
    note: str


@dataclass(frozen=True)
class Outcome:
    """How one claimed run ended."""

    claim: Claim
    status: str
    output_text: str
    error_text: str
    duration_ms: int
    # The run shows the task cannot succeed as it stands (its skill is unknown, or its owner may
    # not use it): the task fails instead of returning to pending, until someone enables it again.
    task_failed: bool = False
    # The traceback of a skill that raised, for staff; error_text has its type and message only.
    traceback_text: str = ""

    @property
    def ended_at(self):
        # Derived from the monotonic duration, so ended_at - started_at == duration_ms exactly
        # and a wall-clock step can never put the end before the start.
        return self.claim.started_at + timedelta(milliseconds=self.duration_ms)


def recordable_text(text, *, keep="head"):
    """`text` as an execution records it: without NUL characters (PostgreSQL cannot store them)
    and at most EXECUTION_TEXT_MAX_LENGTH characters long, a longer text keeping its head
    (output, error) or its tail (a traceback: its end says what failed), marked as cut."""
    text = text.replace("\x00", "\N{REPLACEMENT CHARACTER}")
    if len(text) <= EXECUTION_TEXT_MAX_LENGTH:
        return text
    marker = "\n[... cut ...]\n"
    room = EXECUTION_TEXT_MAX_LENGTH - len(marker)
    return text[:room] + marker if keep == "head" else marker + text[-room:]


# next_run is a pure function, and the tasks of one batch often share a cron, a time zone and the
# moment: remembering recent answers spares most croniter walks.
_next_run = lru_cache(maxsize=1024)(next_run)


def following_slot(task, after):
    """The task's next slot after `after`, or None when its cron never fires again."""
    return _next_run(task.schedule_cron, task.timezone, after)


def _missed_slots_note(task, slot, now):
    """Says how many later slots were missed (downtime) and are coalesced into this one run."""
    missed = []
    following = following_slot(task, slot)
    while following is not None and following <= now and len(missed) < MISSED_SLOTS_COUNTED:
        missed.append(following)
        following = following_slot(task, following)
    if not missed:
        return ""
    count = f"{len(missed)}" if len(missed) < MISSED_SLOTS_COUNTED else f"at least {len(missed)}"
    return (
        f"Coalesced: ran once for {count} missed slot(s) after {slot.isoformat()} "
        f"(last {missed[-1].isoformat()}); missed slots are not replayed.\n"
    )


def _advance(task, now):
    """Returns the task to pending at its next slot after `now` (completed when there is none),
    and drops the claim. A status set while it ran (disabled, completed, failed: anything but
    running) is kept: it takes effect now."""
    task.claimed_by = ""
    task.lease_expires_at = None
    task.updated_at = now
    if task.status not in (TaskStatus.RUNNING, TaskStatus.PENDING):
        return None
    try:
        task.next_run_at = following_slot(task, now)
    except Exception as error:  # UNREADABLE_SCHEDULE, or anything its stored values raise
        task.status = TaskStatus.FAILED
        return f"Cannot compute the next run: {error}"
    task.status = TaskStatus.PENDING if task.next_run_at else TaskStatus.COMPLETED
    return None


def _summary(error):
    message = str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def _prepare(task, *, now, longest, lease_margin_seconds):
    """What claiming `task` needs, worked out before anything is written: its run's timeout
    (cut to TASK_MAX_TIMEOUT_SECONDS), its lease and the note on missed slots. Raises whatever
    the task's stored values make fail (a cron or time zone stored past validation, a slot or a
    lease out of datetime's range)."""
    timeout = min(task.timeout_seconds, longest)
    lease_expires_at = now + timedelta(seconds=timeout + lease_margin_seconds)
    return timeout, lease_expires_at, _missed_slots_note(task, task.next_run_at, now)


def _record_not_run(task, execution, *, worker):
    event_create(
        event_type=TASK_NOT_RUN,
        severity=Severity.ERROR,
        # Cut to an event message's bound: the execution keeps the whole error_text.
        message=f"Task {task.pk} ({task.skill_name}) failed before it ran: {execution.error_text}"[
            : SystemEvent._meta.get_field("message").max_length
        ],
        details={"task_id": task.pk, "execution_id": execution.pk, "worker": worker},
        source="scheduler",
    )


_TASK_CLAIM_FIELDS = ["status", "claimed_by", "lease_expires_at", "updated_at"]
_TASK_ADVANCE_FIELDS = ["status", "claimed_by", "lease_expires_at", "next_run_at", "updated_at"]
_EXECUTION_END_FIELDS = [
    "status",
    "ended_at",
    "output_text",
    "error_text",
    "traceback_text",
    "duration_ms",
]


def _update_alike(objects, fields):
    """Writes `fields` of `objects` with one QuerySet.update per distinct set of values: a claimed
    batch shares its lease, an advanced batch often its next slot, and quick runs of one batch
    often their outcome (same claim time, status, output and duration)."""
    groups = {}
    for instance in objects:
        values = tuple(getattr(instance, name) for name in fields)
        groups.setdefault(values, []).append(instance.pk)
    for values, primary_keys in groups.items():
        type(objects[0]).objects.filter(pk__in=primary_keys).update(
            **dict(zip(fields, values, strict=True))
        )


# Every owner's oldest due task, then every owner's second, and so on, each owner only up to
# their room under TASKS_MAX_RUNNING_PER_USER (their tasks a worker holds, lease set, count as
# running). The LIMIT counts rows once locked, so concurrent claims take disjoint tasks. Turns are
# numbered in the statement's snapshot, where a task another claim holds still counts as pending:
# two claims together never pass an owner's room. The outer WHERE repeats the due test, so a row
# claimed and committed meanwhile is rechecked on its new version and skipped. Raw SQL because
# the ORM cannot lock the rows of a query joined to a window-function subquery.
_CLAIM_DUE_SQL = """
WITH holding AS (
    SELECT user_id, COUNT(*) AS running
    FROM scheduled_tasks
    WHERE lease_expires_at IS NOT NULL
    GROUP BY user_id
), due AS (
    SELECT id, user_id, next_run_at,
        ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY next_run_at, id) AS turn
    FROM scheduled_tasks
    WHERE status = %(pending)s AND next_run_at <= %(now)s
)
SELECT task.*
FROM scheduled_tasks AS task
JOIN due ON due.id = task.id
LEFT JOIN holding ON holding.user_id = due.user_id
WHERE task.status = %(pending)s AND task.next_run_at <= %(now)s
    AND due.turn <= %(most_running)s - COALESCE(holding.running, 0)
ORDER BY due.turn, due.next_run_at, due.id
LIMIT %(limit)s
FOR NO KEY UPDATE OF task SKIP LOCKED
"""


def task_claim_due(*, worker, limit, now, lease_margin_seconds):
    """Claims up to `limit` due tasks (pending, next_run_at <= now) for `worker`.

    One transaction: SELECT ... FOR NO KEY UPDATE SKIP LOCKED (concurrent schedulers never wait
    for or share a row), one ExecutionResult per task for its slot (unique per task and slot),
    and each task marked running with a lease of timeout + margin. Owners take turns, oldest due
    task first within each turn, and an owner with TASKS_MAX_RUNNING_PER_USER tasks held by
    workers gets none: their due tasks wait, pending, for one of their runs to end. A run's
    timeout is the task's, cut to TASK_MAX_TIMEOUT_SECONDS (for a task stored before the bound,
    or before it was lowered). Returns the Claims; nothing runs before the commit. A slot that
    already has an execution (next_run_at set back by hand) is skipped, never run twice: the
    task moves on to its next slot. A task whose cron or time zone cannot be read fails without
    running: so does a task whose claim cannot be prepared for any other reason (a lease out of
    range, say). Such a task fails on its own, the others of the batch are claimed: it gets a
    failed execution saying why, and an error event `scheduler_task_failed`.
    """
    longest = settings.TASK_MAX_TIMEOUT_SECONDS
    with transaction.atomic():
        tasks = list(
            ScheduledTask.objects.raw(
                _CLAIM_DUE_SQL,
                {
                    "pending": TaskStatus.PENDING,
                    "now": now,
                    "most_running": settings.TASKS_MAX_RUNNING_PER_USER,
                    "limit": limit,
                },
            )
        )
        if not tasks:
            return []
        already_run = set(
            ExecutionResult.objects.filter(
                task_id__in=[task.pk for task in tasks],
                scheduled_for__in={task.next_run_at for task in tasks},
            ).values_list("task_id", "scheduled_for")
        )
        runnable, skipped, not_run, prepared = [], [], [], {}
        for task in tasks:
            if (task.pk, task.next_run_at) in already_run:
                _advance(task, now)
                skipped.append(task)
                continue
            try:
                prepared[task.pk] = _prepare(
                    task, now=now, longest=longest, lease_margin_seconds=lease_margin_seconds
                )
            except Exception as error:
                # This task alone fails, saying why; it never runs, and the others do.
                task.status, task.updated_at = TaskStatus.FAILED, now
                skipped.append(task)
                not_run.append(
                    ExecutionResult(
                        task=task,
                        scheduled_for=task.next_run_at,
                        started_at=now,
                        ended_at=now,
                        duration_ms=0,
                        status=ExecutionStatus.FAILED,
                        worker=worker,
                        error_text=f"The run could not be prepared: {_summary(error)}. "
                        f"Nothing ran; the task failed (enable it once it is fixed).",
                    )
                )
                continue
            runnable.append(task)
        executions = ExecutionResult.objects.bulk_create(
            [
                ExecutionResult(
                    task=task, scheduled_for=task.next_run_at, started_at=now, worker=worker
                )
                for task in runnable
            ]
            + not_run
        )
        for execution in executions[len(runnable) :]:
            _record_not_run(execution.task, execution, worker=worker)
        timeouts = {task.pk: prepared[task.pk][0] for task in runnable}
        for task in runnable:
            task.status = TaskStatus.RUNNING
            task.claimed_by = worker
            task.lease_expires_at = prepared[task.pk][1]
            task.updated_at = now
        if runnable:
            _update_alike(runnable, _TASK_CLAIM_FIELDS)
        if skipped:
            _update_alike(skipped, _TASK_ADVANCE_FIELDS)
    return [
        Claim(
            task_id=task.pk,
            execution_id=execution.pk,
            user_id=task.user_id,
            skill_name=task.skill_name,
            params=task.params_json,
            timeout_seconds=timeouts[task.pk],
            scheduled_for=execution.scheduled_for,
            started_at=now,
            note=prepared[task.pk][2],
        )
        for task, execution in zip(runnable, executions[: len(runnable)], strict=True)
    ]


def _is_open(execution):
    """The execution exists and has no final status yet."""
    return execution is not None and execution.status is None


def execution_finish(*, worker, outcomes, now):
    """Records the outcomes of `worker`'s runs and advances their tasks, in one transaction.

    Each execution gets its final status, ended_at, output, error and duration; each task returns
    to pending at its next slot after `now` (completed when the cron has no next time; failed
    when the outcome says the task cannot succeed). A status set while it ran (disabled,
    completed, failed) is kept.
    Runs stopped by a shutdown come here too, as cancelled: their tasks are released at once,
    without waiting for the lease. A run whose lease was reclaimed meanwhile (the task no longer
    claimed by `worker`) is left as the reclaiming worker recorded it. A run whose execution was
    closed (or deleted) meanwhile through the API keeps that record, but its task, still claimed
    by `worker`, advances all the same rather than stay running until the lease expires. Returns
    the outcomes recorded.
    """
    if not outcomes:
        return []
    with transaction.atomic():
        tasks = {
            task.pk: task
            for task in ScheduledTask.objects.select_for_update(no_key=True)
            .filter(pk__in=[outcome.claim.task_id for outcome in outcomes], claimed_by=worker)
            .order_by("pk")
        }
        executions = {
            execution.pk: execution
            for execution in ExecutionResult.objects.select_for_update(no_key=True)
            .filter(pk__in=[outcome.claim.execution_id for outcome in outcomes])
            .order_by("pk")
        }
        closed_elsewhere = [
            outcome
            for outcome in outcomes
            if not _is_open(executions.get(outcome.claim.execution_id))
        ]
        # Of those, a task `worker` claimed again since (this run's lease expired, was reclaimed
        # and the task claimed anew) has another open execution: its claim is not this run's.
        claimed_again = set()
        if closed_elsewhere:
            claimed_again = set(
                ExecutionResult.objects.filter(
                    task_id__in=[outcome.claim.task_id for outcome in closed_elsewhere],
                    status__isnull=True,
                ).values_list("task_id", flat=True)
            )
        recorded, changed_tasks, changed_executions = [], [], []
        for outcome in outcomes:
            task = tasks.get(outcome.claim.task_id)
            if task is None or task.pk in claimed_again:
                continue
            kept = task.status != TaskStatus.RUNNING  # set while it ran
            problem = _advance(task, now)
            if outcome.task_failed and not kept:
                task.status = TaskStatus.FAILED
            changed_tasks.append(task)
            execution = executions.get(outcome.claim.execution_id)
            if not _is_open(execution):
                continue
            execution.status = outcome.status
            execution.ended_at = outcome.ended_at
            execution.output_text = recordable_text(outcome.claim.note + outcome.output_text)
            execution.error_text = recordable_text(
                "\n".join(filter(None, [outcome.error_text, problem]))
            )
            execution.traceback_text = recordable_text(outcome.traceback_text, keep="tail")
            execution.duration_ms = outcome.duration_ms
            changed_executions.append(execution)
            recorded.append(outcome)
        if changed_executions:
            _update_alike(changed_executions, _EXECUTION_END_FIELDS)
        if changed_tasks:
            _update_alike(changed_tasks, _TASK_ADVANCE_FIELDS)
    return recorded


def task_reclaim_expired(*, worker, now, limit=100):
    """Reclaims tasks whose lease expired (their worker was killed or stalled), in one
    transaction, skipping rows another scheduler holds.

    The abandoned execution is marked failed with the reason, and the task returns to pending at
    its next slot after `now` (a status set meanwhile, disabled say, is kept). Returns the ids of
    the executions closed.
    """
    with transaction.atomic():
        tasks = list(
            ScheduledTask.objects.select_for_update(skip_locked=True, no_key=True)
            .filter(lease_expires_at__lt=now)
            .order_by("pk")[:limit]
        )
        if not tasks:
            return []
        holders = {task.pk: (task.claimed_by, task.lease_expires_at) for task in tasks}
        abandoned = list(
            ExecutionResult.objects.select_for_update(no_key=True)
            .filter(task_id__in=list(holders), status__isnull=True)
            .order_by("pk")
        )
        closed = []
        for execution in abandoned:
            holder, lease_expires_at = holders[execution.task_id]
            if execution.worker != holder:
                continue
            execution.status = ExecutionStatus.FAILED
            execution.ended_at = max(now, execution.started_at)
            execution.duration_ms = int(
                (execution.ended_at - execution.started_at).total_seconds() * 1000
            )
            execution.error_text = (
                f"Abandoned: the lease of worker {holder!r} expired at "
                f"{lease_expires_at.isoformat()} before the run finished (worker killed or "
                f"stalled). Reclaimed by {worker!r}; the task runs again at its next slot."
            )
            closed.append(execution)
        for task in tasks:
            _advance(task, now)
        if closed:
            _update_alike(closed, _EXECUTION_END_FIELDS)
        _update_alike(tasks, _TASK_ADVANCE_FIELDS)
    return [execution.pk for execution in closed]
