"""Ingest benchmark: events stored per second, counted in the database, end to end.

    .venv/bin/python bench/ingest.py [--rows 1000000] [--duration 10] [--rounds 3]
                                     [--connections 16] [--workers 2] [--ndjson-events 100000]

- bulk: `POST /api/events/bulk` over HTTP (gunicorn, --workers workers), 1,000 events a request,
  --connections connections driven by wrk, `Prefer: return=minimal`;
- NDJSON: `POST /api/events/bulk` with `application/x-ndjson`, --ndjson-events a request, one
  request per worker at once;
- import: `manage.py import_events` of an NDJSON file of --ndjson-events events.

Each is measured --rounds times, in alternating rounds, on a table first holding --rows events
(seeded if it does not), and reported as the median events/s with every round's figure. Run on
demand (`make bench-ingest`), never from the test suite.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brain.settings.base")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from bench.support import BRAIN_SERVER, running  # noqa: E402
from brain.tokens import token_create  # noqa: E402
from events.models import SystemEvent  # noqa: E402

BULK_SIZE = 1000
PORT = 8791
TYPES = ["health_check", "api_request", "deployment", "error", "backup"]
SEVERITIES = ["info", "warning", "error", "critical"]
# Throughput from one user over many connections: the user rate limit and the per-user limit on
# heavy requests (which bulk creates are) are lifted.
SERVER_ENV = {
    "THROTTLE_RATE_USER": "1000000/s",
    "API_HEAVY_REQUESTS_PER_USER": "0",
    "DEBUG": "0",
    "LOG_LEVEL": "WARNING",
}


def events(count, rng):
    """`count` realistic new events as a client sends them."""
    return [
        {
            "event_type": rng.choice(TYPES),
            "severity": rng.choice(SEVERITIES),
            "message": f"request {n} served in {rng.randrange(1, 900)} ms",
            "details": {"duration_ms": rng.randrange(1, 900), "attempt": rng.randrange(1, 4)},
            "source": f"api-{rng.randrange(1, 9)}",
        }
        for n in range(count)
    ]


def stored():
    return SystemEvent.objects.count()


def ensure_rows(rows):
    """The table holds at least `rows` events (seeded when it holds fewer)."""
    missing = rows - stored()
    if missing > 0:
        call_command("seed_events", count=missing, seed=1)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE system_events")


def token():
    user, _ = get_user_model().objects.get_or_create(username="bench-ingest")
    return token_create(user=user)


def bulk_round(url, key, body, *, duration, connections):
    """Events/s stored by wrk's bulk requests, counted in the database; and non-2xx answers."""
    lua = (
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        'wrk.headers["Prefer"] = "return=minimal"\n'
        f'wrk.headers["Authorization"] = "Token {key}"\n'
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(lua)
        script.flush()
        before = stored()
        started = time.perf_counter()
        output = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{connections}",
                f"-d{duration}s",
                "--timeout",
                "60s",
                "-s",
                script.name,
                f"{url}/api/events/bulk",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        elapsed = time.perf_counter() - started
    errors = sum(int(line.split(":")[1]) for line in output.splitlines() if "Non-2xx" in line)
    return (stored() - before) / elapsed, errors


def ndjson_round(url, key, body, *, workers):
    """Events/s stored by `workers` NDJSON requests sent at once."""
    failures = []

    def send():
        request = urllib.request.Request(
            f"{url}/api/events/bulk",
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/x-ndjson",
                "Prefer": "return=minimal",
                "Authorization": f"Token {key}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=600) as response:
                response.read()
        except OSError as error:
            failures.append(error)

    before = stored()
    started = time.perf_counter()
    threads = [threading.Thread(target=send) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"NDJSON request failed: {failures[0]}")
    return (stored() - before) / elapsed


def import_round(path):
    """Events/s stored by one `manage.py import_events` run (process start included)."""
    before = stored()
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "manage.py", "import_events", str(path), "--verbosity", "0"],
        cwd=BASE_DIR,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - started
    return (stored() - before) / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ndjson-events", type=int, default=100_000)
    options = parser.parse_args()

    ensure_rows(options.rows)
    key = token()
    rng = random.Random(1)
    bulk_body = json.dumps(events(BULK_SIZE, rng))
    lines = "".join(json.dumps(event) + "\n" for event in events(options.ndjson_events, rng))
    ndjson_body = lines.encode()
    results = {"bulk": [], "ndjson": [], "import": []}
    url = f"http://127.0.0.1:{PORT}"
    errors = 0
    with tempfile.NamedTemporaryFile("wb", suffix=".ndjson") as file:
        file.write(ndjson_body)
        file.flush()
        for number in range(1, options.rounds + 1):
            environment = {
                **os.environ,
                **SERVER_ENV,
                "HOST": "127.0.0.1",
                "PORT": str(PORT),
                "WEB_CONCURRENCY": str(options.workers),
            }
            with running(BRAIN_SERVER, environment=environment, ready_url=f"{url}/health/live"):
                rate, failed = bulk_round(
                    url,
                    key,
                    bulk_body,
                    duration=options.duration,
                    connections=options.connections,
                )
                results["bulk"].append(rate)
                errors += failed
                results["ndjson"].append(
                    ndjson_round(url, key, ndjson_body, workers=options.workers)
                )
            results["import"].append(import_round(file.name))
            print(
                f"round {number}: "
                + ", ".join(
                    f"{name} {values[-1]:,.0f} events/s" for name, values in results.items()
                ),
                flush=True,
            )
    print(f"\nstored events at the end: {stored():,}; non-2xx bulk answers: {errors}")
    print(f"{'path':<60} {'median events/s':>16}  rounds")
    labels = {
        "bulk": f"POST /api/events/bulk, {BULK_SIZE} a request, {options.connections} conn.",
        "ndjson": f"POST /api/events/bulk NDJSON, {options.ndjson_events:,} a request",
        "import": f"import_events, {options.ndjson_events:,} events",
    }
    for name, values in results.items():
        rounds = ", ".join(f"{value:,.0f}" for value in values)
        print(f"{labels[name]:<60} {statistics.median(values):>16,.0f}  {rounds}")


if __name__ == "__main__":
    main()
