"""The base of every Brain management command: what it changes is recorded as done by
`system:<command name>`."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from brain.context import audit_actor, current_context
from brain.durations import parse_age
from brain.progress import ProgressBar

# The most rows a retention command deletes in one transaction.
MAX_BATCH_SIZE = 1_000_000
# The most processes a command's --jobs starts, each on a PostgreSQL connection of its own (the
# server takes 100 connections by default, for every client together).
MAX_JOBS = 32


class AuditedCommand(BaseCommand):
    """A BaseCommand whose `handle()` runs under `audit_actor("system:<command>")`, the command
    name being its module's (`seed` for .../commands/seed.py). Subclass it instead of
    BaseCommand; set `actor_name` to name the actor otherwise. Called from code that already
    has an actor or a request (`seed` calling `seed_events`, the scheduler's `audit.purge`
    skill), it keeps that one: the record names who started the work."""

    actor_name = None

    def execute(self, *args, **options):
        context = current_context()
        if context.actor or context.request is not None:
            return super().execute(*args, **options)
        actor = self.actor_name or f"system:{self.__module__.rsplit('.', 1)[-1]}"
        with audit_actor(actor):
            return super().execute(*args, **options)


class PurgeCommand(AuditedCommand):
    """A retention command: takes a required age option (`age_option`, parsed by `parse_age`;
    zero only with `zero_age`) and `--batch-size`, counts what is older than now minus that age,
    deletes it in batches behind a progress bar on stderr (none at verbosity 0) and writes
    `Deleted <n> <what(cutoff)>.` to stdout; with `--dry-run`, only `Would delete <n>
    <what(cutoff)>.`. A bad age or batch size is a CommandError before anything is read.
    Subclasses set the class attributes and implement `what(cutoff)` ("events older than ..."),
    `count(cutoff)` (how many rows `purge` would delete now) and `purge(cutoff, *, batch_size,
    progress)` (deletes them in batches, calling `progress(n)` after each, and returns how many it
    deleted)."""

    age_option = None  # "--older-than"
    age_help = None
    zero_age = False  # whether an age of zero (0d) is taken
    default_batch_size = None
    unit = None  # what the progress bar counts: "events"

    def add_arguments(self, parser):
        age = parser.add_argument(self.age_option, required=True, help=self.age_help)
        self.age_dest = age.dest
        parser.add_argument("--batch-size", type=int, default=self.default_batch_size)
        parser.add_argument(
            "--dry-run", action="store_true", help="say how many would be deleted; delete none"
        )

    def handle(self, *args, batch_size, dry_run, **options):
        try:
            age = parse_age(options[self.age_dest], zero=self.zero_age)
        except ValueError as error:
            raise CommandError(str(error)) from None
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise CommandError(f"--batch-size must be from 1 to {MAX_BATCH_SIZE:,}.")
        cutoff = timezone.now() - age
        total = self.count(cutoff)
        if dry_run:
            self.stdout.write(f"Would delete {total} {self.what(cutoff)}.")
            return
        with ProgressBar(
            total=total, unit=self.unit, disable=options["verbosity"] == 0, file=self.stderr
        ) as bar:
            deleted = self.purge(cutoff, batch_size=batch_size, progress=bar.update)
        self.stdout.write(f"Deleted {deleted} {self.what(cutoff)}.")
