import argparse
import math
import os
import signal
import socket

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from brain.commands import AuditedCommand
from brain.validators import validate_storable_text
from scheduling.scheduler import Scheduler

# The longest --poll-interval, --grace-period and --lease-margin: a day.
MAX_SECONDS = 86_400
# The most tasks one scheduler claims and runs at once, each in a thread of its own.
MAX_CLAIMED_TASKS = 1_000


def _seconds(*, zero):
    """An argparse type: a number of seconds, above 0 (from 0 with `zero`) and at most
    MAX_SECONDS (NaN and infinity are none)."""
    least = "from 0" if zero else "above 0"

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (0 <= value <= MAX_SECONDS) or (value == 0 and not zero):
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a number of seconds {least} to {MAX_SECONDS}"
            )
        return value

    return parse


def _batch_size(text):
    """An argparse type: a whole number of tasks from 1 to MAX_CLAIMED_TASKS."""
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_CLAIMED_TASKS):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a whole number of tasks from 1 to {MAX_CLAIMED_TASKS}"
        )
    return int(text)


class Command(AuditedCommand):
    actor_name = "system:scheduler"
    help = (
        "Runs due scheduled tasks until SIGTERM/SIGINT (or, with --once, until none is due). "
        "Any number of schedulers may run against one database: each slot runs exactly once. "
        "Each (but with --once) also seals the audit log every AUDIT_SEAL_INTERVAL_SECONDS, one "
        "at a time."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--worker-id",
            default=f"{socket.gethostname()}:{os.getpid()}",
            help="Name recorded on claims and executions (default: host:pid).",
        )
        parser.add_argument(
            "--poll-interval",
            type=_seconds(zero=False),
            default=0.5,
            help="Seconds between looks for due tasks when idle (default 0.5).",
        )
        parser.add_argument(
            "--batch-size",
            type=_batch_size,
            default=10,
            help="Most tasks claimed per transaction and run at once (default 10); keep it above "
            "TASKS_MAX_RUNNING_PER_USER, so one user's runs never take every slot.",
        )
        parser.add_argument(
            "--grace-period",
            type=_seconds(zero=True),
            default=30.0,
            help="Seconds a shutdown waits for running skills before cancelling them (default 30).",
        )
        parser.add_argument(
            "--lease-margin",
            type=_seconds(zero=True),
            default=30.0,
            help="Seconds a claim outlives the task's timeout before another scheduler may "
            "reclaim it (default 30).",
        )
        parser.add_argument(
            "--once",
            action="store_true",
            help="Run every task due now, then exit (for cron and tests).",
        )

    def handle(self, *args, **options):
        """Runs the scheduler loop in this process; exits 0 after a SIGTERM or SIGINT once
        running skills finished (or the grace period passed) and claims are released."""
        worker_id = options["worker_id"]
        if not 1 <= len(worker_id) <= 100:
            raise CommandError("--worker-id is 1 to 100 characters.")
        try:
            validate_storable_text(worker_id)  # argv bytes not in UTF-8 come as surrogates
        except ValidationError as error:
            raise CommandError(f"--worker-id: {error.message}") from None
        scheduler = Scheduler(
            worker_id=worker_id,
            poll_interval=options["poll_interval"],
            batch_size=options["batch_size"],
            grace_period=options["grace_period"],
            lease_margin=options["lease_margin"],
            # A run that ends once nothing is due leaves sealing to the running schedulers.
            seal_interval=None if options["once"] else settings.AUDIT_SEAL_INTERVAL_SECONDS,
        )
        signal.signal(signal.SIGTERM, scheduler.stop)
        signal.signal(signal.SIGINT, scheduler.stop)
        scheduler.run(once=options["once"])
