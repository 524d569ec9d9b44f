import math
import os
import signal
import socket

from django.conf import settings
from django.core.management.base import CommandError

from brain.commands import AuditedCommand
from scheduling.scheduler import Scheduler


def _check(option, value, *, least, above=False):
    """Refuses an option's value below `least` (at `least` too when `above`), or not finite."""
    if not (math.isfinite(value) and (value > least if above else value >= least)):
        bound = f"above {least}" if above else f"at least {least}"
        raise CommandError(f"{option} must be a number {bound}; got {value}.")


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
            type=float,
            default=0.5,
            help="Seconds between looks for due tasks when idle (default 0.5).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=10,
            help="Most tasks claimed per transaction and run at once (default 10); keep it above "
            "TASKS_MAX_RUNNING_PER_USER, so one user's runs never take every slot.",
        )
        parser.add_argument(
            "--grace-period",
            type=float,
            default=30.0,
            help="Seconds a shutdown waits for running skills before cancelling them (default 30).",
        )
        parser.add_argument(
            "--lease-margin",
            type=float,
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
        if len(options["worker_id"]) > 100:
            raise CommandError("--worker-id is at most 100 characters.")
        _check("--poll-interval", options["poll_interval"], least=0, above=True)
        _check("--batch-size", options["batch_size"], least=1)
        _check("--grace-period", options["grace_period"], least=0)
        _check("--lease-margin", options["lease_margin"], least=0)
        scheduler = Scheduler(
            worker_id=options["worker_id"],
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
