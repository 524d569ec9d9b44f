"""The events dashboard's response time on --rows events (default 1,000,000): GET
/admin/events/dashboard/ as a logged-in staff user against gunicorn on loopback, one request at a
time, with its cached figures warm, and cold (an event written before each request, which
invalidates them). Target: under 300 ms. Run on demand (`make bench-dashboard`),
never from the test suite.

    .venv/bin/python bench/dashboard.py [--rows 1000000] [--requests 50] [--cold 20] [--port 8795]
"""

import argparse
import os
import statistics
import sys
import time
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brain.settings.base")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.test import Client  # noqa: E402

from bench.support import BENCH_EVENT_TYPE, BRAIN_SERVER, ensure_rows, running  # noqa: E402
from events.models import SystemEvent  # noqa: E402
from events.services import event_create  # noqa: E402

TARGET_MS = 300
PATH = "/admin/events/dashboard/"


def session_cookie():
    """A session cookie of a staff user allowed to view events."""
    user, _ = get_user_model().objects.get_or_create(
        username="bench-operator", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def timed_get(url, cookie):
    request = urllib.request.Request(url, headers={"Cookie": cookie})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        body = response.read()
        status = response.status
    elapsed = (time.perf_counter() - start) * 1000
    if status != 200 or b'id="chart-daily"' not in body:
        raise RuntimeError(f"the dashboard answered {status} without its charts")
    return elapsed


def summary(name, runs):
    runs = sorted(runs)
    p95 = runs[min(len(runs) - 1, round(0.95 * (len(runs) - 1)))]
    verdict = "met" if p95 < TARGET_MS else "NOT met"
    return (
        f"| {name} | {len(runs)} | {statistics.median(runs):.1f} | {p95:.1f} | {runs[-1]:.1f} "
        f"| {verdict} |"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--cold", type=int, default=20)
    parser.add_argument("--port", type=int, default=8795)
    options = parser.parse_args()

    ensure_rows(options.rows)
    cookie = session_cookie()
    environment = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(options.port),
        "WEB_CONCURRENCY": "2",
        "LOG_LEVEL": "WARNING",
    }
    url = f"http://127.0.0.1:{options.port}{PATH}"
    ready_url = f"http://127.0.0.1:{options.port}/health/live"
    with running(BRAIN_SERVER, environment=environment, ready_url=ready_url):
        timed_get(url, cookie)  # fills the caches
        warm = [timed_get(url, cookie) for _ in range(options.requests)]
        cold = []
        for _ in range(options.cold):
            # An event written as the API writes one (audited, its invalidation after commit):
            # the next request recomputes the figures, summing the count rows the write appended.
            event_create(event_type=BENCH_EVENT_TYPE, severity="info", message="dashboard")
            cold.append(timed_get(url, cookie))
    print(f"GET {PATH} on {SystemEvent.objects.count():,} events, target p95 < {TARGET_MS} ms")
    print("| cache | requests | p50 ms | p95 ms | max ms | target |")
    print("|---|---|---|---|---|---|")
    print(summary("warm (statistics cached)", warm))
    print(summary("cold (statistics recomputed)", cold))


if __name__ == "__main__":
    main()
