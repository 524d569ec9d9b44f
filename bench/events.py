"""Events benchmarks (issue 3): gunicorn with 2 workers on loopback, PostgreSQL with --rows events,
token authentication, every figure next to the `/health/live` floor of the same run. Run on demand
(`make bench-events`), never from the test suite; results go to docs/benchmarks.md by hand.

    .venv/bin/python bench/events.py [--rows 1000000] [--duration 5] [--rounds 3]
                                     [--connections 16] [--list-only]

Targets: cached GET /api/events/{id}, cached GET /api/events/stats, POST /api/events, the first
page of a filtered list (type + severity), and stats cold (a miss on every request) against the
same four aggregate statements run directly in psql. Measured along with them, the issue's four
reference views (bench/reference_urls.py), which say how the machine compares with the one the
targets were set on. With --list-only, only the floor and the filtered list (for the same
measurement at 10x the rows).
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brain.settings.base")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from bench.reference_urls import CACHED_KEY  # noqa: E402
from bench.web import print_round_ratios, print_table, serve, wrk  # noqa: E402
from events import cache as events_cache  # noqa: E402
from events.models import SystemEvent  # noqa: E402
from events.selectors import event_stats  # noqa: E402

FILTERED_LIST = "/api/events?event_type=health_check&severity=error"
USERS = 100
# The dashboard's load comes from many users: requests rotate over USERS tokens. DRF's user
# throttle keeps each user's request times in the cache, so it stays on, with a per-second window
# (the default 6000/min per user would turn a load test into 429s).
# The server also answers the reference views (bench/reference_urls.py).
SERVER_ENV = {
    "THROTTLE_RATE_USER": "1000000/s",
    "DEBUG": "0",
    "DJANGO_SETTINGS_MODULE": "bench.reference_settings",
}


def ensure_rows(rows):
    """Loads `rows` seeded events, truncating first unless the table holds about that many
    (lifecycle events written by the benchmark's own servers are tolerated)."""
    if abs(SystemEvent.objects.count() - rows) > rows // 1000:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE system_events RESTART IDENTITY")
        call_command("seed_events", count=rows, seed=1, batch_size=50_000)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE system_events")


def bench_tokens():
    tokens = []
    for n in range(USERS):
        user, _ = get_user_model().objects.get_or_create(username=f"bench{n}")
        tokens.append(Token.objects.get_or_create(user=user)[0].key)
    return tokens


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk_tokens(url, tokens, *, duration, connections, method="GET", body=None):
    """wrk against `url`, each request with the next of `tokens`; returns requests/s, p50/p90/p99
    latency (ms) and the count of non-2xx answers."""
    lua = (
        f"local tokens = {{{', '.join(json.dumps(token) for token in tokens)}}}\n"
        "local n = 0\n"
        f"wrk.method = {json.dumps(method)}\n"
        f"wrk.body = {json.dumps(body or '')}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        "request = function()\n"
        "  n = n + 1\n"
        '  wrk.headers["Authorization"] = "Token " .. tokens[n % #tokens + 1]\n'
        "  return wrk.format()\n"
        "end\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(lua)
        script.flush()
        output = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{connections}",
                f"-d{duration}s",
                "--latency",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    percentiles = dict(
        re.findall(r"^\s+(50|90|99)%\s+([\d.]+(?:us|ms|s))\s*$", output, re.MULTILINE)
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result = {
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
    }
    for p in ("50", "90", "99"):
        value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", percentiles[p]).groups()
        result[f"p{p}_ms"] = float(value) * _UNITS[unit]
    return result


def stats_statements():
    """The SQL of event_stats, as the stats endpoint runs it."""
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        event_stats()
    return [query["sql"] for query in queries]


def psql_milliseconds(statements, runs):
    """Median time of running `statements` once, in psql (server-side `\\timing`)."""
    settings = connection.settings_dict
    script = "\\timing on\n" + "".join(";\n".join(statements) + ";\n" for _ in range(runs))
    output = subprocess.run(
        [
            "psql",
            "-h",
            settings["HOST"],
            "-p",
            str(settings["PORT"]),
            "-U",
            settings["USER"],
            "-d",
            settings["NAME"],
            "-o",
            "/dev/null",
        ],
        input=script,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    times = [float(value) for value in re.findall(r"Time: ([\d.]+) ms", output)]
    per_run = [sum(times[i : i + len(statements)]) for i in range(0, len(times), len(statements))]
    return statistics.median(per_run)


def stats_cold_milliseconds(base_url, token, runs):
    """Median latency of GET /api/events/stats when every request is a miss."""
    times = []
    for _ in range(runs):
        cache.incr(events_cache.STATS_GENERATION_KEY, ignore_key_check=True)
        request = urllib.request.Request(
            f"{base_url}/api/events/stats", headers={"Authorization": f"Token {token}"}
        )
        started = time.perf_counter()
        with urllib.request.urlopen(request) as response:
            response.read()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def best(runs):
    """The run with the most requests/s: on a shared machine the slower runs measure neighbours."""
    return max(runs, key=lambda result: result["requests_per_second"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--list-only", action="store_true")
    options = parser.parse_args()

    ensure_rows(options.rows)
    rows = SystemEvent.objects.count()
    tokens = bench_tokens()
    run = {"duration": options.duration, "connections": options.connections}
    event_id = SystemEvent.objects.order_by("-id").values_list("id", flat=True)[1000]
    body = json.dumps(
        {
            "event_type": "bench",
            "severity": "info",
            "message": "load test",
            "details": {"n": 1},
            "source": "wrk",
        }
    )
    with serve(port=options.port, workers=options.workers, env=SERVER_ENV) as base_url:

        def cached(path):
            """wrk against `path` with its cache filled first: the stats' 30-second TTL ends, and
            the previous round's POSTs invalidate them, so a round would otherwise begin with a
            recompute (the cold figure, measured apart) and measure it along with the hits."""
            request = urllib.request.Request(
                f"{base_url}{path}", headers={"Authorization": f"Token {tokens[0]}"}
            )
            urllib.request.urlopen(request).read()
            return wrk_tokens(f"{base_url}{path}", tokens, **run)

        targets = {
            "GET /health/live (floor)": lambda: wrk(f"{base_url}/health/live", **run),
            "filtered list, first page": lambda: wrk_tokens(
                f"{base_url}{FILTERED_LIST}", tokens, **run
            ),
            # One connection per worker: a request's own latency, without queueing.
            "filtered list, first page, 2 connections": lambda: wrk_tokens(
                f"{base_url}{FILTERED_LIST}", tokens, duration=options.duration, connections=2
            ),
        }
        if not options.list_only:
            cache.set(CACHED_KEY, "reference value", None)
            targets |= {
                "reference: DRF view, constant (issue: 0.69)": lambda: wrk(
                    f"{base_url}/reference/drf-constant", **run
                ),
                "reference: view, one django-redis read (issue: 0.56)": lambda: wrk(
                    f"{base_url}/reference/cache-read", **run
                ),
                "reference: view, one primary-key SELECT (issue: 0.33)": lambda: wrk(
                    f"{base_url}/reference/select/{event_id}", **run
                ),
                "reference: view, one INSERT (issue: 0.28)": lambda: wrk(
                    f"{base_url}/reference/insert", method="POST", **run
                ),
                "GET /api/auth/me (DRF + token + throttle, reference)": lambda: wrk_tokens(
                    f"{base_url}/api/auth/me", tokens, **run
                ),
                "GET /api/events/{id} (cached)": lambda: cached(f"/api/events/{event_id}"),
                "GET /api/events/stats (cached)": lambda: cached("/api/events/stats"),
                "POST /api/events": lambda: wrk_tokens(
                    f"{base_url}/api/events", tokens, method="POST", body=body, **run
                ),
            }
        runs = {name: [] for name in targets}
        for _ in range(options.rounds):
            for name, target in targets.items():
                runs[name].append(target())
        if not options.list_only:
            cold = stats_cold_milliseconds(base_url, tokens[0], runs=15)
    results = {name: best(target_runs) for name, target_runs in runs.items()}
    print(
        f"rows: {rows:,}; list: {FILTERED_LIST}; best of {options.rounds} rounds of "
        f"{options.duration} s, targets interleaved\n"
    )
    print_table(results, results["GET /health/live (floor)"])
    print()
    print_round_ratios(runs, runs["GET /health/live (floor)"])
    if not options.list_only:
        direct = psql_milliseconds(stats_statements(), runs=15)
        print(
            f"\nstats cold: endpoint {cold:.1f} ms (median of 15 misses), the same four "
            f"statements in psql {direct:.1f} ms (median of 15), ratio {cold / direct:.2f}"
        )
        SystemEvent.objects.filter(event_type="bench").delete()


if __name__ == "__main__":
    main()
