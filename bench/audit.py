"""Cost of auditing an update: 10,000 saves of loaded events (one per row), unaudited (the peer's
plain model of the same table, bench/peer), audited by Brain (SystemEvent) and audited by
django-auditlog (the peer's model registered with it), in one process and the same run, inside
one transaction and in autocommit. The modes alternate within each round and the table is vacuumed
before each pass, so no mode inherits another's dead rows. Prints the median per-save time, its
ratios to the unaudited save and to django-auditlog's, and the queries per save. Then the sealing
and verification of the audit log: records written in one transaction (as a bulk import writes
them), sealed into checkpoints (at most --checkpoint-records each), then verified from their
first checkpoint by `manage.py verify_audit --jobs 1` and `--jobs 2`, alternately, timed from the
command's start to its exit (Django's start included) and net of the command's fixed cost (the
same command over the last checkpoint alone), in records per second (median over the rounds; the
records stay in the benchmark's database). Last, the delay from
commit to sealed: a scheduler runs (`manage.py run_scheduler`, which seals every
AUDIT_SEAL_INTERVAL_SECONDS) while this process writes a stream of audited events, each in its own
transaction, and each record's delay is its sealing checkpoint's `created_at` (the checkpoint
commits milliseconds later) minus the time its write returned from COMMIT; p50, p95, p99 and the
largest. Run on demand (`make bench-audit`, which installs django-auditlog under
var/bench-auditlog, never into .venv):

    PYTHONPATH=var/bench-auditlog .venv/bin/python bench/audit.py [--saves 10000] [--rounds 3]
        [--sealed 1000000] [--checkpoint-records 10000] [--stream-seconds 20]
        [--stream-rate 50] [--only saves|sealing|delay]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.audit_settings")

import django

django.setup()

from auditlog.registry import auditlog  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from audit import chain  # noqa: E402
from audit.models import AuditCheckpoint, AuditLog, CheckpointKind  # noqa: E402
from audit.sealing import CHECKPOINT_MAX_RECORDS, audit_seal  # noqa: E402
from bench.peer.models import Event  # noqa: E402
from events.models import SystemEvent  # noqa: E402

# verify_audit in its own process, then with two processes of its own.
VERIFY_JOBS = (1, 2)

# One UPDATE record of an event, as an audited save writes it, per row of generate_series.
WRITE_RECORDS = """
INSERT INTO audit_logs (user_id, "timestamp", changed_fields, operation, table_name, record_id,
                        ip_address, user_agent, request_id)
SELECT '7', now(), jsonb_build_object(
           'message', jsonb_build_object('old', 'deploying ' || n, 'new', 'deployed ' || n),
           'severity', jsonb_build_object('old', 'info', 'new', 'error')),
       'UPDATE', 'system_events', n::text, '10.0.0.1', 'curl/8.5.0', md5(n::text)
FROM generate_series(1, %s) AS n
"""


class Unaudited:
    """The peer's model of system_events with django-auditlog's registration taken off."""

    name = "unaudited"
    model = Event

    def __enter__(self):
        auditlog.unregister(Event)

    def __exit__(self, *exc):
        auditlog.register(Event)


class Brain:
    name = "Brain audit"
    model = SystemEvent

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        pass


class DjangoAuditlog:
    """The peer's model, registered with django-auditlog as bench/peer/models.py does."""

    name = "django-auditlog"
    model = Event

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        pass


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
    parser.add_argument("--sealed", type=int, default=1_000_000)
    parser.add_argument(
        "--checkpoint-records",
        type=int,
        default=CHECKPOINT_MAX_RECORDS,
        help="records per checkpoint at most (the sealer's default: 10,000)",
    )
    parser.add_argument("--stream-seconds", type=float, default=20.0)
    parser.add_argument("--stream-rate", type=float, default=50.0, help="writes per second")
    parser.add_argument(
        "--only", choices=["saves", "sealing", "delay"], help="run one part of the benchmark"
    )
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    if args.only in (None, "saves"):
        audited_saves(args.saves, args.rounds)
    if args.only in (None, "sealing"):
        sealing(args.sealed, args.checkpoint_records, args.rounds)
    if args.only in (None, "delay"):
        seal_delay(args.stream_seconds, args.stream_rate)


def audited_saves(count, rounds):
    """Per-save time and queries: unaudited, Brain's audit, django-auditlog."""
    modes = [Unaudited(), Brain(), DjangoAuditlog()]
    with modes[0]:
        Event.objects.filter(event_type="bench").delete()
        Event.objects.bulk_create(
            Event(event_type="bench", severity="info", message="start") for _ in range(count)
        )
    # Each mode saves its own model's instances of the same rows.
    loaded = {
        mode.name: list(mode.model.objects.filter(event_type="bench").order_by("pk"))
        for mode in modes
    }
    print(
        f"PostgreSQL {connection.pg_version}, {count} saves (one per row) x {rounds} rounds, median"
    )
    tag = 0
    for in_transaction in (True, False):
        samples = {mode.name: [] for mode in modes}
        counts = {}
        for _ in range(rounds):
            for mode in modes:
                with mode:
                    tag += 1
                    samples[mode.name].append(timed(loaded[mode.name], in_transaction, tag))
        for mode in modes:
            with mode:
                tag += 1
                counts[mode.name] = queries_per_save(loaded[mode.name][:100], in_transaction, tag)
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
        Event.objects.filter(event_type="bench").delete()


def sealing(records, checkpoint_records, rounds):
    """Records sealed per second, `records` at a time, then verified per second by
    `manage.py verify_audit` with each of VERIFY_JOBS, alternately: from the command's start to
    its exit, and net of the command's fixed cost (its time over the last checkpoint alone,
    measured beside it, is taken off the time and that checkpoint's records off the count)."""
    audit_seal()  # what earlier runs left unsealed
    sealed = []
    verified = {(jobs, net): [] for jobs in VERIFY_JOBS for net in (False, True)}
    for round_ in range(rounds):
        with connection.cursor() as cursor:
            cursor.execute(WRITE_RECORDS, [records])
            cursor.execute("ANALYZE audit_logs")
        started = time.perf_counter()
        checkpoints = audit_seal(max_records=checkpoint_records)
        sealed.append(records / (time.perf_counter() - started))
        first, last = checkpoints[0], checkpoints[-1]
        order = VERIFY_JOBS if round_ % 2 == 0 else VERIFY_JOBS[::-1]
        for jobs in order:
            whole = verify_command(first.sequence, jobs, records)
            fixed = verify_command(last.sequence, jobs, last.record_count)
            verified[jobs, False].append(records / whole)
            verified[jobs, True].append((records - last.record_count) / (whole - fixed))
    print(
        f"\nsealing {records} records written in one transaction, {len(checkpoints)} "
        f"checkpoints, x {rounds} rounds, median"
    )
    rows = [("sealed", sealed)] + [
        (f"verify_audit --jobs {jobs}{', net' if net else ''}", rates)
        for (jobs, net), rates in verified.items()
    ]
    for name, rates in rows:
        print(f"{name:27} {statistics.median(rates):10,.0f} records/s  {[round(r) for r in rates]}")


def verify_command(since, jobs, records):
    """The seconds `manage.py verify_audit --since since --jobs jobs` takes, from its start to its
    exit, with the deployed settings; it must verify `records` records."""
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment.pop("DJANGO_SETTINGS_MODULE")
    command = ["manage.py", "verify_audit", "--since", str(since), "--jobs", str(jobs)]
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *command],
        cwd=Path(__file__).resolve().parent.parent,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - started
    assert f" and {records} records," in done.stdout, done.stdout
    return seconds


def seal_delay(seconds, rate):
    """The delay from commit to sealed of a stream of audited writes while a scheduler runs."""
    audit_seal()  # what earlier parts left unsealed
    log_path = Path("var/bench-audit-scheduler.log")
    log_path.parent.mkdir(exist_ok=True)
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment.pop("DJANGO_SETTINGS_MODULE")  # the scheduler's own settings, as deployed
    with log_path.open("w") as log:
        scheduler = subprocess.Popen(
            [sys.executable, "manage.py", "run_scheduler", "--worker-id", "bench-audit"],
            cwd=Path(__file__).resolve().parent.parent,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        while "scheduler started" not in log_path.read_text():
            if scheduler.poll() is not None:
                raise RuntimeError(f"the scheduler did not start: see {log_path}")
            time.sleep(0.1)
        committed = {}  # event id -> time its write returned from COMMIT
        started = time.monotonic()
        for number in range(int(seconds * rate)):
            time.sleep(max(0.0, started + number / rate - time.monotonic()))
            event = SystemEvent.objects.create(
                event_type="bench", severity="info", message=f"stream {number}"
            )
            committed[str(event.pk)] = time.time()
        records = dict(
            AuditLog.objects.filter(
                table_name="system_events", operation="CREATE", record_id__in=committed
            ).values_list("pk", "record_id")
        )
        sealed_at = {}
        deadline = time.monotonic() + 60
        while len(sealed_at) < len(records) and time.monotonic() < deadline:
            time.sleep(0.2)
            for checkpoint in AuditCheckpoint.objects.filter(kind=CheckpointKind.SEAL).order_by(
                "-sequence"
            )[:200]:
                for record_pk, _ in chain.locator_entries(checkpoint.records):
                    if record_pk in records:
                        sealed_at[record_pk] = checkpoint.created_at.timestamp()
    finally:
        scheduler.terminate()
        scheduler.wait(timeout=60)
    SystemEvent.objects.filter(event_type="bench").delete()
    delays = sorted(sealed_at[pk] - committed[records[pk]] for pk in sealed_at)
    quantiles = statistics.quantiles(delays, n=100, method="inclusive")
    print(
        f"\ncommit to sealed, {len(delays)} of {len(records)} writes at {rate:g}/s over "
        f"{seconds:g} s, one scheduler sealing every {settings.AUDIT_SEAL_INTERVAL_SECONDS:g} s"
    )
    print(
        f"p50 {quantiles[49] * 1000:.0f} ms  p95 {quantiles[94] * 1000:.0f} ms  "
        f"p99 {quantiles[98] * 1000:.0f} ms  max {delays[-1] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
