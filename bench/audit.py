"""Cost of auditing an update: 10,000 saves of one SystemEvent, unaudited, audited by Brain, and
audited by django-auditlog, in one process and the same run, inside one transaction and in
autocommit. Prints per-save time and queries per save (docs/benchmarks.md, "Audit").

    pip install --target /tmp/bench-auditlog django-auditlog   # never into .venv
    PYTHONPATH=/tmp/bench-auditlog DATABASE_URL=postgres://.../brain_audit_bench \\
        SECRET_KEY=bench .venv/bin/python bench/audit.py [--saves 10000] [--rounds 3]
"""

import argparse
import os
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.audit_settings")

import django  # noqa: E402

django.setup()

from auditlog.registry import auditlog  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

import audit  # noqa: E402
from events.models import SystemEvent  # noqa: E402


class Unaudited:
    name = "unaudited"

    def __enter__(self):
        audit.unregister(SystemEvent)

    def __exit__(self, *exc):
        audit.register(SystemEvent)


class Brain:
    name = "Brain audit"

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        pass


class DjangoAuditlog:
    name = "django-auditlog"

    def __enter__(self):
        audit.unregister(SystemEvent)
        auditlog.register(SystemEvent)

    def __exit__(self, *exc):
        auditlog.unregister(SystemEvent)
        audit.register(SystemEvent)


def saves(event, count, start):
    for n in range(start, start + count):
        event.message = f"message {n}"
        event.save()


def timed(event, count, in_transaction):
    context = transaction.atomic() if in_transaction else nullcontext()
    started = time.perf_counter()
    with context:
        saves(event, count, start=int(started * 1000))
    return (time.perf_counter() - started) / count


def queries_per_save(event, in_transaction, sample=100):
    context = transaction.atomic() if in_transaction else nullcontext()
    with context, CaptureQueriesContext(connection) as captured:
        saves(event, sample, start=0)
    statements = [q["sql"] for q in captured if q["sql"] not in ("BEGIN", "COMMIT")]
    return len(statements) / sample, (len(captured) - len(statements)) / sample


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--saves", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    event = SystemEvent.objects.create(event_type="bench", severity="info", message="start")
    event = SystemEvent.objects.get(pk=event.pk)
    modes = [Unaudited(), Brain(), DjangoAuditlog()]
    print(f"PostgreSQL {connection.pg_version}, {args.saves} saves x {args.rounds} rounds, median")
    for in_transaction in (True, False):
        label = "in one transaction" if in_transaction else "autocommit"
        results = {}
        for mode in modes:
            with mode:
                timed(event, 500, in_transaction)  # warm-up
                samples = [timed(event, args.saves, in_transaction) for _ in range(args.rounds)]
                results[mode.name] = (statistics.median(samples), *queries_per_save(event, in_transaction))
        base = results["unaudited"][0]
        auditlog_cost = results["django-auditlog"][0]
        print(f"\n{label}")
        print(f"{'':18} {'us/save':>8} {'x unaudited':>12} {'x auditlog':>11} {'SQL/save':>9} {'BEGIN+COMMIT/save':>18}")
        for name, (seconds, statements, control) in results.items():
            print(
                f"{name:18} {seconds * 1e6:8.1f} {seconds / base:12.2f} "
                f"{seconds / auditlog_cost:11.2f} {statements:9.1f} {control:18.1f}"
            )
    SystemEvent.objects.filter(pk=event.pk).delete()


if __name__ == "__main__":
    main()
