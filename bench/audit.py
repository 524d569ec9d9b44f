"""Cost of auditing an update: 10,000 saves of loaded SystemEvents (one per row), unaudited,
audited by Brain and audited by django-auditlog, in one process and the same run, inside one
transaction and in autocommit. The modes alternate within each round and the table is vacuumed
before each pass, so no mode inherits another's dead rows. Prints the median per-save time, its
ratios to the unaudited save and to django-auditlog's, and the queries per save. Run on demand
(`make bench-audit`, which installs django-auditlog under var/bench-auditlog, never into .venv):

    PYTHONPATH=var/bench-auditlog .venv/bin/python bench/audit.py [--saves 10000] [--rounds 3]
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

import django

django.setup()

from auditlog.registry import auditlog  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from audit import registry  # noqa: E402
from events.models import SystemEvent  # noqa: E402


class Unaudited:
    name = "unaudited"

    def __enter__(self):
        registry.unregister(SystemEvent)

    def __exit__(self, *exc):
        registry.register(SystemEvent)


class Brain:
    name = "Brain audit"

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        pass


class DjangoAuditlog:
    name = "django-auditlog"

    def __enter__(self):
        registry.unregister(SystemEvent)
        auditlog.register(SystemEvent)

    def __exit__(self, *exc):
        auditlog.unregister(SystemEvent)
        registry.register(SystemEvent)


def saves(events, tag):
    for event in events:
        event.message = f"{tag} {event.pk}"
        event.save()


def timed(events, in_transaction, tag):
    with connection.cursor() as cursor:
        cursor.execute("VACUUM system_events")
    context = transaction.atomic() if in_transaction else nullcontext()
    started = time.perf_counter()
    with context:
        saves(events, tag)
    return (time.perf_counter() - started) / len(events)


def queries_per_save(events, in_transaction, tag):
    context = transaction.atomic() if in_transaction else nullcontext()
    with context, CaptureQueriesContext(connection) as captured:
        saves(events, tag)
    statements = [q["sql"] for q in captured if q["sql"] not in ("BEGIN", "COMMIT")]
    return len(statements) / len(events), (len(captured) - len(statements)) / len(events)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--saves", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    modes = [Unaudited(), Brain(), DjangoAuditlog()]
    with modes[0]:
        SystemEvent.objects.filter(event_type="bench").delete()
        SystemEvent.objects.bulk_create(
            SystemEvent(event_type="bench", severity="info", message="start")
            for _ in range(args.saves)
        )
    events = list(SystemEvent.objects.filter(event_type="bench").order_by("pk"))
    print(
        f"PostgreSQL {connection.pg_version}, {args.saves} saves (one per row) x {args.rounds} "
        f"rounds, median"
    )
    tag = 0
    for in_transaction in (True, False):
        samples = {mode.name: [] for mode in modes}
        counts = {}
        for _ in range(args.rounds):
            for mode in modes:
                with mode:
                    tag += 1
                    samples[mode.name].append(timed(events, in_transaction, tag))
        for mode in modes:
            with mode:
                tag += 1
                counts[mode.name] = queries_per_save(events[:100], in_transaction, tag)
        base = statistics.median(samples["unaudited"])
        auditlog_cost = statistics.median(samples["django-auditlog"])
        print(f"\n{'in one transaction' if in_transaction else 'autocommit'}")
        print(
            f"{'':18} {'us/save':>8} {'x unaudited':>12} {'x auditlog':>11} {'SQL/save':>9} "
            f"{'BEGIN+COMMIT/save':>18}"
        )
        for mode in modes:
            seconds = statistics.median(samples[mode.name])
            statements, control = counts[mode.name]
            print(
                f"{mode.name:18} {seconds * 1e6:8.1f} {seconds / base:12.2f} "
                f"{seconds / auditlog_cost:11.2f} {statements:9.1f} {control:18.1f}"
            )
    with modes[0]:
        SystemEvent.objects.filter(event_type="bench").delete()


if __name__ == "__main__":
    main()
