"""Brain against the peer (bench/peer/: the same API as the DRF and django-auditlog docs show it)
over HTTP, on the same PostgreSQL rows and the same gunicorn settings. Each round starts Brain's
gunicorn, drives every path with wrk, stops it, then does the same with the peer's. Prints per
path the median requests/s of each and the median of the rounds' Brain/peer ratios, and writes
the figures as JSON under bench/results/. Run on demand (`make bench`), never from the tests.

    .venv/bin/python bench/web.py [--rows 1000000] [--rounds 5] [--duration 8] [--connections 16]
"""

import argparse
import json
import os
import re
import runpy
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brain.settings.base")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402

from bench.support import (  # noqa: E402
    BENCH_EVENT_TYPE,
    BRAIN_SERVER,
    GUNICORN,
    ensure_rows,
    running,
)
from brain.models import APIToken  # noqa: E402
from brain.tokens import token_create  # noqa: E402

USERS = 100
POST_BODY = json.dumps(
    {
        "event_type": BENCH_EVENT_TYPE,
        "severity": "info",
        "message": "load test",
        "details": {"n": 1},
    }
)
# Path name -> (method, path, Brain/peer target). The stats come last: a peer's stats request
# still queued when wrk stops runs on until the server stops, not into the next path's run.
PATHS = {
    "filtered list, first page": (
        "GET",
        "/api/events?event_type=health_check&severity=error",
        1.5,
    ),
    "GET /api/events/{id} (cached)": ("GET", "/api/events/{id}", 3.3),
    "POST /api/events": ("POST", "/api/events", 1.6),
    "GET /api/events/stats (cached)": ("GET", "/api/events/stats", 100),
}
# Rates so high that neither server throttles, with the throttles still counting every request.
SERVER_ENV = {"THROTTLE_RATE_USER": "1000000/s", "DEBUG": "0", "LOG_LEVEL": "WARNING"}


def bench_tokens():
    """The tokens of USERS users: the requests rotate over them, as a dashboard's many users.
    Each key is a Brain API token (its previous ones revoked) and the same user's DRF token in
    the peer's table (authtoken_token, which `make bench` migrates for the peer)."""
    tokens = []
    for n in range(USERS):
        user, _ = get_user_model().objects.get_or_create(username=f"bench{n}")
        APIToken.objects.filter(user=user).delete()
        key = token_create(user=user, name="bench")
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, now(), %s) "
                "ON CONFLICT (user_id) DO UPDATE SET key = EXCLUDED.key",
                [key, user.pk],
            )
        tokens.append(key)
    return tokens


def brain_gunicorn_settings():
    """Workers and timeout of brain/gunicorn.conf.py, for the peer to run with. The peer is a WSGI
    application, served by gunicorn's sync workers as its documentation shows; Brain ships
    gunicorn's ASGI worker (brain/asgi.py)."""
    config = runpy.run_path(str(BASE_DIR / "brain" / "gunicorn.conf.py"))
    return {"workers": config["workers"], "timeout": config.get("timeout", 30)}


def gunicorn_commands(port, peer_redis_url):
    """(command, environment) of Brain's server and of the peer's, both on 127.0.0.1:`port`."""
    settings = brain_gunicorn_settings()
    peer = [
        GUNICORN,
        f"--bind=127.0.0.1:{port}",
        f"--workers={settings['workers']}",
        "--worker-class=sync",
        f"--timeout={settings['timeout']}",
        "--pythonpath=var/bench-auditlog",
        "bench.peer.wsgi:application",
    ]
    environment = {**os.environ, **SERVER_ENV, "HOST": "127.0.0.1", "PORT": str(port)}
    peer_environment = {
        **environment,
        "DJANGO_SETTINGS_MODULE": "bench.peer.settings",
        "REDIS_URL": peer_redis_url,
    }
    return {"Brain": (BRAIN_SERVER, environment), "peer": (peer, peer_environment)}


def get(url, token, timeout=60):
    """The body of a GET of `url` with `token`; raises HTTPError unless the answer is 2xx."""
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read()


_MILLISECONDS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url, tokens, *, method, duration, connections):
    """wrk with 2 threads against `url`, each request with the next of `tokens`; returns
    requests/s, p50 and p99 latency (ms) and the count of errors (non-2xx answers, timeouts)."""
    lua = (
        f"local tokens = {{{', '.join(json.dumps(token) for token in tokens)}}}\n"
        "local n = 0\n"
        f"wrk.method = {json.dumps(method)}\n"
        f"wrk.body = {json.dumps(POST_BODY if method == 'POST' else '')}\n"
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
        command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--timeout=30s"]
        output = subprocess.run(
            [*command, "--latency", "-s", script.name, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    latency = {}
    for percentile, value, unit in re.findall(
        r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M
    ):
        latency[f"p{percentile}_ms"] = float(value) * _MILLISECONDS[unit]
    errors = sum(
        int(count) for count in re.findall(r"(?:Non-2xx or 3xx responses:|timeout) (\d+)", output)
    )
    return {
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        **latency,
        "errors": errors,
    }


def run_round(servers, event_id, tokens, options):
    """Each server in turn: start, warm up, wrk every path, stop. Returns server -> path ->
    result."""
    results = {}
    for name, (command, environment) in servers.items():
        base_url = f"http://127.0.0.1:{options.port}"
        results[name] = {}
        ready_url = f"{base_url}/api/events/{event_id}"
        with running(
            command,
            environment=environment,
            ready_url=ready_url,
            headers={"Authorization": f"Token {tokens[0]}"},
            log_path=BASE_DIR / "var" / f"bench-{name}.log",
        ):
            for token in tokens:  # each token looked up once, each worker's connections opened
                get(ready_url, token)
            for path_name, (method, path, _) in PATHS.items():
                url = base_url + path.format(id=event_id)
                if method == "GET":
                    get(url, tokens[0])  # Brain's cached paths start filled, as in use
                results[name][path_name] = wrk(
                    url,
                    tokens,
                    method=method,
                    duration=options.duration,
                    connections=options.connections,
                )
        print(
            f"  {name}: "
            + ", ".join(f"{r['requests_per_second']:.0f}" for r in results[name].values()),
            flush=True,
        )
    return results


def summary(rounds):
    """Per path: each server's median requests/s, the rounds' ratios and their median."""
    table = {}
    for path_name, (_, _, target) in PATHS.items():
        brain = [r["Brain"][path_name]["requests_per_second"] for r in rounds]
        peer = [r["peer"][path_name]["requests_per_second"] for r in rounds]
        ratios = [b / p if p else float("inf") for b, p in zip(brain, peer, strict=True)]
        table[path_name] = {
            "brain_rps": median(brain),
            "peer_rps": median(peer),
            "ratios": ratios,
            "ratio": median(ratios),
            "target": target,
            "errors": sum(r[s][path_name]["errors"] for r in rounds for s in ("Brain", "peer")),
        }
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=8, help="seconds per path and round")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--peer-redis-url", default=os.environ.get("PEER_REDIS_URL", "redis://127.0.0.1:6379/12")
    )
    options = parser.parse_args()

    ensure_rows(options.rows)
    tokens = bench_tokens()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM system_events")
        [rows] = cursor.fetchone()
        # An event that exists (ids have gaps where other benchmarks deleted theirs).
        cursor.execute("SELECT id FROM system_events ORDER BY id DESC OFFSET 1000 LIMIT 1")
        [event_id] = cursor.fetchone()
    servers = gunicorn_commands(options.port, options.peer_redis_url)
    print(
        f"{rows:,} events; {options.rounds} rounds of {options.duration} s per path and server, "
        f"wrk -t2 -c{options.connections}; requests/s per round (paths in order):"
    )
    rounds = []
    for number in range(options.rounds):
        print(f"round {number + 1}", flush=True)
        rounds.append(run_round(servers, event_id, tokens, options))
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM system_events WHERE event_type = %s", [BENCH_EVENT_TYPE])

    table = summary(rounds)
    print("\n| path | Brain req/s | peer req/s | Brain/peer (median) | target | rounds |")
    print("|---|---:|---:|---:|---:|---|")
    for path_name, row in table.items():
        print(
            f"| {path_name} | {row['brain_rps']:.0f} | {row['peer_rps']:.1f} | "
            f"{row['ratio']:.2f}x | >= {row['target']}x | "
            f"{', '.join(f'{ratio:.2f}' for ratio in row['ratios'])} |"
        )
    errors = sum(row["errors"] for row in table.values())
    if errors:
        print(f"\n{errors} requests failed (non-2xx or timeout): see the JSON for which")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=BASE_DIR
    ).stdout.strip()
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    results_dir = BASE_DIR / "bench" / "results"
    results_dir.mkdir(exist_ok=True)
    path = results_dir / f"web-{stamp}-{commit}.json"
    path.write_text(
        json.dumps(
            {
                "commit": commit,
                "date": stamp,
                "options": vars(options),
                "rows": rows,
                "summary": table,
                "rounds": rounds,
            },
            indent=2,
        )
    )
    print(f"\nwritten to {path.relative_to(BASE_DIR)}")


if __name__ == "__main__":
    main()
