from django.core.management.base import CommandError
from django.utils import timezone

from brain.commands import AuditedCommand
from brain.durations import parse_age
from brain.progress import ProgressBar
from brain.tokens import PURGE_BATCH_SIZE, token_purge_count, token_purge_expired


class Command(AuditedCommand):
    help = (
        "Deletes the API tokens that expired more than --expired-for ago (7d, 12h, 30m; 0d: "
        "every expired token), --batch-size tokens per transaction, each audited and its cached "
        "lookup revoked; tokens that never expire are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("--expired-for", required=True, help="Age like 7d, 12h or 30m.")
        parser.add_argument("--batch-size", type=int, default=PURGE_BATCH_SIZE)

    def handle(self, *args, expired_for, batch_size, **options):
        try:
            age = parse_age(expired_for)
        except ValueError as error:
            raise CommandError(str(error)) from None
        if batch_size < 1:
            raise CommandError("--batch-size must be >= 1.")
        cutoff = timezone.now() - age
        total = token_purge_count(expired_before=cutoff)
        with ProgressBar(
            total=total, unit="tokens", disable=options["verbosity"] == 0, file=self.stderr
        ) as bar:
            deleted = token_purge_expired(
                expired_before=cutoff, batch_size=batch_size, progress=bar.update
            )
        self.stdout.write(f"Deleted {deleted} API tokens expired before {cutoff.isoformat()}.")
