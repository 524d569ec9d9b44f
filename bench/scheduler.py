"""Scheduler benchmark: throughput of no-op runs with 1, 2 and 4 `run_scheduler` processes, and
the scheduling delay (actual start minus next_run_at) at a steady rate of due tasks. Run on
demand, never from the test suite; it empties the scheduling tables of its own database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/brain_scheduler_bench \\
        .venv/bin/python bench/scheduler.py [--tasks 5000] [--workers 1,2,4] [--rate 100]
        [--seconds 20] [--delay-workers 1,2] [--batch-size 10] [--repeat 3] [--users 20]

The tasks belong to `--users` users in turn: one user's runs are capped at
TASKS_MAX_RUNNING_PER_USER at once, so the schedulers' throughput is that of many users.
Throughput: `--tasks` demo.echo tasks become due at one instant (one UPDATE) while the
schedulers are already polling; runs/s = tasks / (last task advanced - that instant), each run
being claim + run + record + advance. Rounds interleave the worker counts; the best and the
median round of each are reported, with ratios to the first count (1).
Delay: `--rate` tasks per second fall due for `--seconds` seconds, schedulers on their default
options; percentiles of started_at - scheduled_for.
"""

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brain.settings.base")
os.environ.setdefault("SECRET_KEY", "benchmark-secret-key")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/brain_scheduler_bench")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Max  # noqa: E402
from django.utils import timezone  # noqa: E402

from scheduling.models import ExecutionResult, ScheduledTask, TaskStatus  # noqa: E402

CRON = "0 0 1 1 *"  # next slot months away: every task runs once per measurement


def ensure_database():
    """Creates the benchmark database if missing, and migrates it."""
    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [settings["NAME"]]
        ).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{settings["NAME"]}"')
    call_command("migrate", verbosity=0)


def reset(users):
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE execution_results, scheduled_tasks RESTART IDENTITY CASCADE")
    return [
        get_user_model().objects.get_or_create(username=f"scheduler-bench-{number}")[0]
        for number in range(users)
    ]


@contextlib.contextmanager
def schedulers(count, *options):
    """`count` run_scheduler processes, polling before the block starts, stopped with SIGTERM."""
    environment = {**os.environ}
    environment.pop("DJANGO_SETTINGS_MODULE")
    with tempfile.TemporaryDirectory() as logs:
        paths = [Path(logs) / f"worker-{number}.log" for number in range(count)]
        processes = []
        for number, path in enumerate(paths):
            with path.open("w") as log:
                processes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "manage.py",
                            "run_scheduler",
                            "--worker-id",
                            f"bench-{number}",
                            *options,
                        ],
                        cwd=BASE_DIR,
                        env=environment,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        try:
            wait_until(lambda: all("scheduler started" in p.read_text() for p in paths), 60)
            yield
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            codes = [process.wait(timeout=60) for process in processes]
            if codes != [0] * count:
                raise RuntimeError(f"schedulers exited with {codes}")


def wait_until(condition, timeout, interval=0.25):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out")
        time.sleep(interval)


def all_recorded(count):
    return (
        ExecutionResult.objects.filter(status__isnull=False).count() == count
        and not ScheduledTask.objects.filter(status=TaskStatus.RUNNING).exists()
    )


def make_tasks(users, count, next_run_at):
    ScheduledTask.objects.bulk_create(
        (
            ScheduledTask(
                user=users[number % len(users)],
                skill_name="demo.echo",
                schedule_cron=CRON,
                next_run_at=next_run_at(number),
            )
            for number in range(count)
        ),
        batch_size=1000,
    )


def throughput(workers, tasks, batch_size, users):
    users = reset(users)
    make_tasks(users, tasks, lambda number: None)
    with schedulers(workers, "--poll-interval", "0.05", "--batch-size", str(batch_size)):
        start = timezone.now()
        ScheduledTask.objects.update(next_run_at=start)
        wait_until(lambda: all_recorded(tasks), 600)
    end = ScheduledTask.objects.aggregate(end=Max("updated_at"))["end"]
    return tasks / (end - start).total_seconds()


def delay(workers, rate, seconds, users):
    users = reset(users)
    count = rate * seconds
    with schedulers(workers):
        base = timezone.now() + timedelta(seconds=2)
        make_tasks(users, count, lambda number: base + timedelta(seconds=number / rate))
        wait_until(lambda: all_recorded(count), seconds + 60)
    delays = sorted(
        (started - scheduled).total_seconds() * 1000
        for started, scheduled in ExecutionResult.objects.values_list("started_at", "scheduled_for")
    )
    return {
        "p50_ms": statistics.median(delays),
        "p99_ms": statistics.quantiles(delays, n=100)[98],
        "max_ms": delays[-1],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--delay-workers", default="1,2")
    parser.add_argument("--repeat", type=int, default=5, help="throughput rounds")
    parser.add_argument("--users", type=int, default=20, help="owners the tasks are spread over")
    arguments = parser.parse_args()
    ensure_database()

    counts = list(map(int, arguments.workers.split(",")))
    results = {"throughput": {workers: [] for workers in counts}, "delay": {}}
    # Rounds interleave the worker counts, so a load change on the machine hits them all alike.
    for _ in range(arguments.repeat):
        for workers in counts:
            rate = throughput(workers, arguments.tasks, arguments.batch_size, arguments.users)
            results["throughput"][workers].append(rate)
    # The best round is the one least disturbed by other load on the machine (as timeit
    # reports its minimum); the median shows what a busy machine gives.
    print(
        f"Throughput: {arguments.tasks} no-op runs, batch size {arguments.batch_size}, "
        f"{arguments.repeat} rounds, {arguments.users} users"
    )
    print(
        "| schedulers | best runs/s | vs 1 | median runs/s | vs 1 | rounds |\n"
        "|---:|---:|---:|---:|---:|---|"
    )
    best = {workers: max(rates) for workers, rates in results["throughput"].items()}
    median = {workers: statistics.median(rates) for workers, rates in results["throughput"].items()}
    for workers in counts:
        rounds = ", ".join(f"{rate:.0f}" for rate in results["throughput"][workers])
        print(
            f"| {workers} | {best[workers]:.0f} | {best[workers] / best[counts[0]]:.2f}x "
            f"| {median[workers]:.0f} | {median[workers] / median[counts[0]]:.2f}x | {rounds} |",
            flush=True,
        )

    print(f"\nDelay: {arguments.rate} due tasks/s for {arguments.seconds} s, default options")
    print("| schedulers | p50 ms | p99 ms | max ms |\n|---:|---:|---:|---:|")
    for workers in map(int, arguments.delay_workers.split(",")):
        figures = delay(workers, arguments.rate, arguments.seconds, arguments.users)
        results["delay"][workers] = figures
        print(
            f"| {workers} | {figures['p50_ms']:.0f} | {figures['p99_ms']:.0f} | "
            f"{figures['max_ms']:.0f} |",
            flush=True,
        )

    output = BASE_DIR / "bench" / "results" / f"scheduler-{time.strftime('%Y%m%dT%H%M%S')}.json"
    output.parent.mkdir(exist_ok=True)
    output.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
