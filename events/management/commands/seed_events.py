import multiprocessing
import os
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection, connections
from django.utils import timezone

from brain import partitions
from brain.commands import MAX_JOBS, AuditedCommand
from brain.context import AuditContext, current_context, using_context
from brain.progress import ProgressBar
from events.models import Severity
from events.partitions import TABLE
from events.services import event_load

# A realistic mix: mostly routine events, few critical ones.
EVENT_TYPES = {
    "health_check": 30,
    "api_request": 25,
    "agent_heartbeat": 15,
    "task_execution": 12,
    "cache_miss": 6,
    "auth_failure": 4,
    "deployment": 3,
    "error": 3,
    "backup": 1,
    "config_change": 1,
}
SEVERITIES = {Severity.INFO: 70, Severity.WARNING: 20, Severity.ERROR: 8, Severity.CRITICAL: 2}
SOURCES = [
    f"{service}-{n}"
    for service in ("api", "scheduler", "agent", "worker", "gateway")
    for n in range(1, 5)
]
MESSAGES = {
    Severity.INFO: "{type} completed on {source} in {duration} ms",
    Severity.WARNING: "{type} slow on {source}: {duration} ms",
    Severity.ERROR: "{type} failed on {source}: upstream returned {status}",
    Severity.CRITICAL: "{type} down on {source}: {status} for {duration} ms",
}


# The progress bar moves at least this many times over a load.
PROGRESS_STEPS = 100
MIN_BATCH_SIZE = 1_000
MAX_BATCH_SIZE = 50_000
# The most events one run creates: about 50 GB of events and audit records, hours of loading.
MAX_COUNT = 100_000_000


def batch_size_for(count, requested):
    """The events per transaction: `requested`, or enough batches for the progress bar to move
    in steps of 1 % at most (within MIN_BATCH_SIZE..MAX_BATCH_SIZE)."""
    if requested is None:
        return min(MAX_BATCH_SIZE, max(MIN_BATCH_SIZE, -(-count // PROGRESS_STEPS)))
    return requested


class Command(AuditedCommand):
    help = (
        "Generates N realistic system events (types, severities, sources, details objects) with "
        "timestamps spread over the last --days days in time order, in batches of --batch-size "
        "rows (one transaction each, with COPY) behind a progress bar. Each event "
        "gets its CREATE audit record; the events caches are invalidated."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--count",
            type=int,
            required=True,
            help=f"How many events to create (at most {MAX_COUNT:,}).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=None,
            help="Events per transaction (default: a hundredth of --count, between 1,000 and "
            "50,000, so the progress bar moves in steps of 1%% at most).",
        )
        parser.add_argument(
            "--days",
            type=int,
            default=30,
            help="Spread timestamps over this many days (at most EVENT_TIME_MAX_AGE_DAYS, 365 by "
            "default: the age an event may have).",
        )
        parser.add_argument(
            "--seed", type=int, default=None, help="Random seed, for a repeatable data set."
        )
        parser.add_argument(
            "--jobs",
            type=int,
            default=min(os.process_cpu_count() or 1, MAX_JOBS),
            help=f"Batches loaded at once, each by its own process and transaction (default: one "
            f"per CPU this process may use, at most {MAX_JOBS}). Inside a caller's transaction "
            "they load one by one in it.",
        )

    def handle(self, *args, count, batch_size, days, seed, jobs, **options):
        if count < 0 or (batch_size is not None and batch_size < 1) or days < 1 or jobs < 1:
            raise CommandError("--count must be >= 0, --batch-size, --days and --jobs >= 1.")
        if count > MAX_COUNT:
            raise CommandError(f"--count must be at most {MAX_COUNT:,}; got {count:,}.")
        if days > settings.EVENT_TIME_MAX_AGE_DAYS:
            raise CommandError(
                f"--days must be at most {settings.EVENT_TIME_MAX_AGE_DAYS:,} "
                "(EVENT_TIME_MAX_AGE_DAYS: the age an event may have)."
            )
        if jobs > MAX_JOBS:
            raise CommandError(f"--jobs must be at most {MAX_JOBS}.")
        batch_size = batch_size_for(count, batch_size)
        now = timezone.now()
        start = now - timedelta(days=days)
        # Every seeded month gets its partition first: the default partition is for strays.
        partitions.partitions_create(partitions.REGISTRY[TABLE], now, since=start)
        batches = _batches(count, batch_size, start, days, seed, current_context())
        parallel = jobs > 1 and count > batch_size and not connection.in_atomic_block
        if parallel:
            _close_connections()
            # Forked from a process without threads: brain.progress's bars start none.
            with multiprocessing.get_context("fork").Pool(jobs) as pool:
                self._show_progress(pool.imap_unordered(_load, batches), count, options)
        else:
            self._show_progress(map(_load, batches), count, options)
        self.stdout.write(f"Created {count} events.")

    def _show_progress(self, loaded, count, options):
        """Consumes `loaded` (each batch's size as it commits) behind a progress bar."""
        with ProgressBar(
            total=count, unit="events", disable=options["verbosity"] == 0, file=self.stderr
        ) as bar:
            for size in loaded:
                bar.update(size)


@dataclass(frozen=True)
class _Batch:
    seed: int | None
    index: int
    size: int
    start: datetime
    span_seconds: float
    context: AuditContext  # the command's actor, for the processes that load in parallel


def _batches(count, batch_size, start, days, seed, context):
    """The batches of `count` events over `days` from `start`, made one at a time as they are
    loaded."""
    seconds_per_event = days * 86400 / count if count else 0
    for index, first in enumerate(range(0, count, batch_size)):
        size = min(batch_size, count - first)
        yield _Batch(
            seed=seed,
            index=index,
            size=size,
            start=start + timedelta(seconds=first * seconds_per_event),
            span_seconds=size * seconds_per_event,
            context=context,
        )


def _load(batch):
    """Generates and loads one batch (one transaction); its own random stream, so a seed gives
    the same events whatever the number of jobs."""
    rng = random.Random(None if batch.seed is None else f"{batch.seed}:{batch.index}")
    rows = list(_events(rng, batch.size, batch.start, batch.span_seconds))
    with using_context(batch.context):
        return event_load(events=rows)


def _close_connections():
    """Before forking the processes that load batches in parallel (so that generating events in
    Python and PostgreSQL's indexing overlap on several CPUs): each child opens its own database
    connection, and no pool's threads or sockets are inherited."""
    for each in connections.all(initialized_only=True):
        each.close()
        if hasattr(each, "close_pool"):
            each.close_pool()


def _events(rng, size, start, span_seconds):
    """`size` events with timestamps spread over `span_seconds` from `start`, in time order, as
    real events arrive (which also keeps the timestamp indexes' inserts at their right edge; with
    several jobs, the batches loading at once are adjacent in time).
    Each column is drawn for the whole batch at once: a third of the per-row random calls."""
    types = rng.choices(list(EVENT_TYPES), list(EVENT_TYPES.values()), k=size)
    severities = rng.choices(
        [str(severity) for severity in SEVERITIES], list(SEVERITIES.values()), k=size
    )
    offsets = sorted(rng.random() * span_seconds for _ in range(size))
    sources = rng.choices(SOURCES, k=size)
    durations = rng.choices(range(1, 5000), k=size)
    statuses = rng.choices((500, 502, 503, 504), k=size)
    attempts = rng.choices((1, 2, 3), k=size)
    for event_type, severity, offset, source, duration, status, attempt in zip(
        types, severities, offsets, sources, durations, statuses, attempts
    ):
        timestamp = start + timedelta(seconds=offset)
        message = MESSAGES[severity].format(
            type=event_type, source=source, duration=duration, status=status
        )
        yield {
            "event_type": event_type,
            "severity": severity,
            "message": message,
            "details": {"duration_ms": duration, "host": source, "attempt": attempt},
            "source": source,
            "timestamp": timestamp,
            "created_at": timestamp,
        }
