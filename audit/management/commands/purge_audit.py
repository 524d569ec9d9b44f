from django.core.management.base import CommandError

from audit.purge import PurgeRefused, audit_purge, audit_purge_count
from audit.sealing import audit_seal
from brain.commands import MAX_BATCH_SIZE, AuditedCommand
from brain.durations import parse_age
from brain.progress import ProgressBar


class Command(AuditedCommand):
    help = (
        "Seals, then deletes the sealed audit records older than --older-than (e.g. 365d), whole "
        "checkpoints at a time, in batches: each batch in its own transaction that the "
        "append-only trigger lets through, with a checkpoint saying what it removed. The only "
        "way to delete them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", required=True, help="age in days, e.g. 365d")
        parser.add_argument("--batch-size", type=int, default=10_000)
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="seal, then say how many records would be deleted; delete none",
        )

    def handle(self, *args, older_than, batch_size, dry_run, **options):
        try:
            age = parse_age(older_than, units="d")
        except ValueError as error:
            raise CommandError(str(error)) from None
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise CommandError(f"--batch-size must be from 1 to {MAX_BATCH_SIZE:,}.")
        audit_seal()  # as the sealer does every second: a purge deletes sealed records only
        total = audit_purge_count(older_than=age)
        if dry_run:
            self.stdout.write(f"Would delete {total} audit records older than {older_than}.")
            return
        with ProgressBar(
            total=total, unit="records", disable=options["verbosity"] == 0, file=self.stderr
        ) as bar:
            try:
                deleted = audit_purge(older_than=age, batch_size=batch_size, progress=bar.update)
            except PurgeRefused as refused:
                raise CommandError(str(refused)) from None
        self.stdout.write(f"Deleted {deleted} audit records older than {older_than}.")
