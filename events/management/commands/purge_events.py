from django.core.management.base import CommandError
from django.utils import timezone

from brain.commands import AuditedCommand
from brain.durations import parse_age
from brain.progress import ProgressBar
from events.services import PURGE_BATCH_SIZE, event_purge, event_purge_count


class Command(AuditedCommand):
    help = (
        "Retention: deletes events whose timestamp is older than --older-than (90d, 12h, 30m), "
        "--batch-size rows per transaction, through the model's manager (audited), invalidating "
        "the events caches."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", required=True, help="Age like 90d, 12h or 30m.")
        parser.add_argument("--batch-size", type=int, default=PURGE_BATCH_SIZE)

    def handle(self, *args, older_than, batch_size, **options):
        try:
            age = parse_age(older_than)
        except ValueError as error:
            raise CommandError(str(error)) from None
        if batch_size < 1:
            raise CommandError("--batch-size must be >= 1.")
        cutoff = timezone.now() - age
        total = event_purge_count(older_than=cutoff)
        with ProgressBar(
            total=total, unit="events", disable=options["verbosity"] == 0, file=self.stderr
        ) as bar:
            deleted = event_purge(older_than=cutoff, batch_size=batch_size, progress=bar.update)
        self.stdout.write(f"Deleted {deleted} events older than {cutoff.isoformat()}.")
