import random
from datetime import timedelta

from django.core.management.base import CommandError
from django.utils import timezone
from tqdm import tqdm

from audit.commands import AuditedCommand
from events.models import Severity
from events.services import event_load

# A realistic mix: mostly routine events, few critical ones.
EVENT_TYPES = {
    "health_check": 30, "api_request": 25, "agent_heartbeat": 15, "task_execution": 12,
    "cache_miss": 6, "auth_failure": 4, "deployment": 3, "error": 3, "backup": 1, "config_change": 1,
}
SEVERITIES = {Severity.INFO: 70, Severity.WARNING: 20, Severity.ERROR: 8, Severity.CRITICAL: 2}
SOURCES = [f"{service}-{n}" for service in ("api", "scheduler", "agent", "worker", "gateway") for n in range(1, 5)]
MESSAGES = {
    Severity.INFO: "{type} completed on {source} in {duration} ms",
    Severity.WARNING: "{type} slow on {source}: {duration} ms",
    Severity.ERROR: "{type} failed on {source}: upstream returned {status}",
    Severity.CRITICAL: "{type} down on {source}: {status} for {duration} ms",
}


class Command(AuditedCommand):
    help = (
        "Generates N realistic system events (types, severities, sources, details objects) with "
        "timestamps spread over the last --days days in time order, in batches of --batch-size "
        "rows (one transaction each, with COPY on PostgreSQL) behind a progress bar. Each event "
        "gets its CREATE audit record; the events caches are invalidated."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, required=True, help="How many events to create.")
        parser.add_argument("--batch-size", type=int, default=50_000)
        parser.add_argument("--days", type=int, default=30, help="Spread timestamps over this many days.")
        parser.add_argument("--seed", type=int, default=None, help="Random seed, for a repeatable data set.")

    def handle(self, *args, count, batch_size, days, seed, **options):
        if count < 0 or batch_size < 1 or days < 1:
            raise CommandError("--count must be >= 0, --batch-size and --days >= 1.")
        rng = random.Random(seed)
        start = timezone.now() - timedelta(days=days)
        seconds_per_event = days * 86400 / count if count else 0
        with tqdm(total=count, unit="events", disable=options["verbosity"] == 0, file=self.stderr) as bar:
            for first in range(0, count, batch_size):
                size = min(batch_size, count - first)
                batch_start = start + timedelta(seconds=first * seconds_per_event)
                rows = list(_events(rng, size, batch_start, size * seconds_per_event))
                bar.update(event_load(events=rows))
        self.stdout.write(f"Created {count} events.")


def _events(rng, size, start, span_seconds):
    """`size` events with timestamps spread over `span_seconds` from `start`, in time order, as
    real events arrive (which also keeps the timestamp indexes' inserts at their right edge).
    Each column is drawn for the whole batch at once: a third of the per-row random calls."""
    types = rng.choices(list(EVENT_TYPES), list(EVENT_TYPES.values()), k=size)
    severities = rng.choices([str(severity) for severity in SEVERITIES], list(SEVERITIES.values()), k=size)
    offsets = sorted(rng.random() * span_seconds for _ in range(size))
    sources = rng.choices(SOURCES, k=size)
    durations = rng.choices(range(1, 5000), k=size)
    statuses = rng.choices((500, 502, 503, 504), k=size)
    attempts = rng.choices((1, 2, 3), k=size)
    for event_type, severity, offset, source, duration, status, attempt in zip(
        types, severities, offsets, sources, durations, statuses, attempts
    ):
        timestamp = start + timedelta(seconds=offset)
        message = MESSAGES[severity].format(type=event_type, source=source, duration=duration, status=status)
        yield {
            "event_type": event_type, "severity": severity, "message": message,
            "details": {"duration_ms": duration, "host": source, "attempt": attempt},
            "source": source, "timestamp": timestamp, "created_at": timestamp,
        }
