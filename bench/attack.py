"""Heavy requests of one user against the others' latency: another user's `GET /api/projects`
p50/p99 while one user sends filtered statistics with a random search (uncached, a scan) and
maximal NDJSON bulks in parallel, on a table of --rows events; and a gunicorn worker's peak
memory (RSS) for one maximal NDJSON body. Target: the other user's p99 under 1 s. Run on demand
(`make bench-attack`), never from the test suite.

    .venv/bin/python bench/attack.py [--rows 300000] [--duration 30] [--stats-clients 4]
                                     [--bulk-clients 2] [--workers 2] [--port 8796]

The attacking user's clients wait the Retry-After of a 429 before sending again, as HTTP
clients do; their answers are counted by status. The server runs with the environment's settings
(API_HEAVY_REQUESTS_PER_USER, API_READ_STATEMENT_TIMEOUT, ...) and THROTTLE_RATE_USER lifted.
"""

import argparse
import http.client
import json
import os
import random
import select
import statistics
import string
import sys
import threading
import time
from collections import Counter
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brain.settings.base")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402

from bench.support import BENCH_EVENT_TYPE, BRAIN_SERVER, ensure_rows, running  # noqa: E402
from brain.tokens import token_create  # noqa: E402
from scheduling.models import Project  # noqa: E402

TARGET_P99_MS = 1000
SERVER_ENV = {"THROTTLE_RATE_USER": "1000000/s", "DEBUG": "0", "LOG_LEVEL": "WARNING"}
# Seconds between two GETs of the other user: about 20 a second.
VICTIM_PAUSE = 0.05
# Bytes of a request body sent at a time.
SEND_BYTES = 1024 * 1024


def token(username):
    user, _ = get_user_model().objects.get_or_create(username=username)
    return user, token_create(user=user)


def ndjson_body(events, limit):
    """`events` NDJSON lines of equal length filling `limit` bytes (REQUEST_MAX_NDJSON_BYTES)."""
    width = limit // events
    lines = []
    for n in range(events):
        event = {
            "event_type": BENCH_EVENT_TYPE,
            "severity": "info",
            "message": f"request {n} served by api-{n % 8} in {n % 900} ms",
            "details": {"n": n, "padding": ""},
            "source": f"api-{n % 8}",
        }
        line = json.dumps(event, separators=(",", ":"))
        event["details"]["padding"] = "x" * (width - len(line) - 1)
        lines.append(json.dumps(event, separators=(",", ":")) + "\n")
    body = "".join(lines).encode()
    assert len(body) <= limit, len(body)
    return body


def request(port, method, path, key, body=None, headers=None, timeout=300):
    """(status, Retry-After or None, seconds) of one request on a new connection. A body is sent
    a megabyte at a time, stopping when the server has answered before reading it all (a 429),
    so that its answer is read, as curl does; status 0 when the server closed the connection
    without an answer this client could read."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.perf_counter()
    try:
        connection.putrequest(method, path)
        for name, value in {"Authorization": f"Token {key}", **(headers or {})}.items():
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders()
        view = memoryview(body or b"")
        for start in range(0, len(view), SEND_BYTES):
            if select.select([connection.sock], [], [], 0)[0]:
                break  # answered early
            try:
                connection.send(view[start : start + SEND_BYTES])
            except (BrokenPipeError, ConnectionResetError):
                break
        try:
            response = connection.getresponse()
            response.read()
        except (ConnectionResetError, http.client.RemoteDisconnected):
            return 0, None, time.perf_counter() - started
        return response.status, response.getheader("Retry-After"), time.perf_counter() - started
    finally:
        connection.close()


def attacker(port, key, deadline, results, send):
    """Sends `send()`'s request until the deadline, waiting a 429's Retry-After."""
    while time.monotonic() < deadline:
        method, path, body, headers = send()
        try:
            status, retry_after, _ = request(port, method, path, key, body, headers)
        except OSError as error:
            results[f"error {type(error).__name__}"] += 1
            continue
        results[status or "closed before answering"] += 1
        if status in (0, 429):
            time.sleep(float(retry_after or 1))


def victim(port, key, deadline):
    """The other user's GET /api/projects, one at a time: each one's milliseconds, and any
    answer but 200."""
    times, failures = [], Counter()
    while time.monotonic() < deadline:
        status, _, seconds = request(port, "GET", "/api/projects", key, timeout=120)
        times.append(seconds * 1000)
        if status != 200:
            failures[status] += 1
        time.sleep(VICTIM_PAUSE)
    return times, failures


def percentile(values, fraction):
    values = sorted(values)
    return values[min(len(values) - 1, round(fraction * (len(values) - 1)))]


def latency_line(name, times, failures):
    return (
        f"| {name} | {len(times)} | {statistics.median(times):.0f} | "
        f"{percentile(times, 0.99):.0f} | {max(times):.0f} | {dict(failures) or '-'} |"
    )


def attack(port, options, attacker_key, victim_key, body):
    """The victim's latencies alone, then under the attack; the attackers' answers by kind."""
    baseline = victim(port, victim_key, time.monotonic() + options.baseline)
    deadline = time.monotonic() + options.duration
    results = {"stats": Counter(), "bulk": Counter()}
    rng = random.Random(1)

    def stats():
        search = "".join(rng.choice(string.ascii_lowercase) for _ in range(8))
        return "GET", f"/api/events/stats?search={search}", None, {}

    def bulk():
        headers = {"Content-Type": "application/x-ndjson", "Prefer": "return=minimal"}
        return "POST", "/api/events/bulk", body, headers

    threads = [
        threading.Thread(target=attacker, args=(port, attacker_key, deadline, results[kind], send))
        for kind, send, count in [
            ("stats", stats, options.stats_clients),
            ("bulk", bulk, options.bulk_clients),
        ]
        for _ in range(count)
    ]
    for thread in threads:
        thread.start()
    time.sleep(1)  # the heavy requests are in flight
    under_attack = victim(port, victim_key, deadline)
    for thread in threads:
        thread.join()
    return baseline, under_attack, results


def worker_pids(master):
    """The pids of a gunicorn master's workers."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def rss_mb(pid, field):
    """VmRSS (now) or VmHWM (peak) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for {pid}")


def peak_memory(port, master, key, body, *, minimal):
    """One worker's resident memory before and its peak after one NDJSON bulk of `body`."""
    [worker] = worker_pids(master)
    headers = {"Content-Type": "application/x-ndjson"}
    if minimal:
        headers["Prefer"] = "return=minimal"
    before = rss_mb(worker, "VmRSS")
    status, _, seconds = request(port, "POST", "/api/events/bulk", key, body, headers)
    if status != 201:
        raise RuntimeError(f"the NDJSON bulk answered {status}")
    return before, rss_mb(worker, "VmHWM"), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--baseline", type=int, default=10)
    parser.add_argument("--stats-clients", type=int, default=4)
    parser.add_argument("--bulk-clients", type=int, default=2)
    parser.add_argument("--ndjson-events", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8796)
    options = parser.parse_args()

    ensure_rows(options.rows)
    _, attacker_key = token("bench-attacker")
    victim_user, victim_key = token("bench-victim")
    for n in range(5):
        Project.objects.get_or_create(user=victim_user, name=f"bench project {n}")
    body = ndjson_body(options.ndjson_events, settings.REQUEST_MAX_NDJSON_BYTES)
    environment = {**os.environ, **SERVER_ENV, "HOST": "127.0.0.1", "PORT": str(options.port)}
    ready_url = f"http://127.0.0.1:{options.port}/health/live"

    with running(
        BRAIN_SERVER,
        environment={**environment, "WEB_CONCURRENCY": str(options.workers)},
        ready_url=ready_url,
    ):
        request(options.port, "GET", "/api/projects", victim_key)  # caches the token
        baseline, under_attack, results = attack(
            options.port, options, attacker_key, victim_key, body
        )
    # One worker, so that it serves the body; a fresh one for each figure.
    memory = {}
    for minimal in (True, False):
        with running(
            BRAIN_SERVER,
            environment={**environment, "WEB_CONCURRENCY": "1"},
            ready_url=ready_url,
        ) as server:
            request(options.port, "GET", "/api/projects", victim_key)  # a warm worker
            memory[minimal] = peak_memory(
                options.port, server.pid, attacker_key, body, minimal=minimal
            )

    print(
        f"\nGET /api/projects of another user, {options.workers} workers, while one user sends "
        f"{options.stats_clients} filtered stats and {options.bulk_clients} NDJSON bulks "
        f"({len(body) / 1e6:.1f} MB, {options.ndjson_events:,} events) at a time for "
        f"{options.duration} s; API_HEAVY_REQUESTS_PER_USER={settings.API_HEAVY_REQUESTS_PER_USER}"
    )
    print("| other user's GET | requests | p50 ms | p99 ms | max ms | not 200 |")
    print("|---|---|---|---|---|---|")
    print(latency_line("alone", *baseline))
    print(latency_line("under attack", *under_attack))
    p99 = percentile(under_attack[0], 0.99)
    print(f"target p99 < {TARGET_P99_MS} ms: {'met' if p99 < TARGET_P99_MS else 'NOT met'}")
    for kind, counts in results.items():
        print(f"attacker's {kind}: {dict(sorted(counts.items(), key=str))}")
    print("\n| one NDJSON bulk, one worker | RSS before MB | peak RSS MB | seconds |")
    print("|---|---|---|---|")
    for minimal, (before, peak, seconds) in memory.items():
        answer = "Prefer: return=minimal" if minimal else "the events answered"
        print(f"| {answer} | {before:.0f} | {peak:.0f} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
