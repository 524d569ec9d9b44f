"""HTTP load benchmark: starts gunicorn on loopback, drives it with wrk, prints requests/s and
latency percentiles per target, each as a ratio of the `/health/live` floor measured in the same
run. Run on demand (`make bench`), never from the test suite.

    .venv/bin/python bench/web.py [--duration 10] [--connections 16] [--workers 2]

Other benchmarks import `serve` and `wrk` to measure their own endpoints against the same floor.
"""

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from statistics import median

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


@contextlib.contextmanager
def serve(*, port, workers, env=None):
    """Runs gunicorn with Brain's config on 127.0.0.1:`port` until the block ends."""
    environment = {
        **os.environ,
        **(env or {}),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
        "LOG_LEVEL": "WARNING",
    }
    environment.setdefault("SECRET_KEY", "benchmark-secret-key")
    process = subprocess.Popen(
        [str(Path(PYTHON).parent / "gunicorn"), "--config", "brain/gunicorn.conf.py"],
        cwd=BASE_DIR,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _milliseconds(text):
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * _UNITS[unit]


def wrk(url, *, duration, connections, threads=2, method="GET", body=None, headers=()):
    """Runs wrk against `url`; returns requests/s, p50/p90/p99 latency (ms) and error count."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    script = None
    if method != "GET" or body is not None:
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)  # noqa: SIM115
        script.write(f"wrk.method = {json.dumps(method)}\nwrk.body = {json.dumps(body or '')}\n")
        script.close()
        command += ["-s", script.name]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    if script is not None:
        os.unlink(script.name)
    percentiles = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)$", output, re.MULTILINE))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": _milliseconds(percentiles["50"]),
        "p90_ms": _milliseconds(percentiles["90"]),
        "p99_ms": _milliseconds(percentiles["99"]),
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
    }


def print_table(results, floor):
    """Prints a Markdown table of wrk results with each target's ratio to the floor."""
    print("| target | requests/s | ratio to floor | p50 ms | p90 ms | p99 ms | non-2xx |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, result in results.items():
        ratio = result["requests_per_second"] / floor["requests_per_second"]
        print(
            f"| {name} | {result['requests_per_second']:.0f} | {ratio:.2f} | {result['p50_ms']:.2f}"
            f" | {result['p90_ms']:.2f} | {result['p99_ms']:.2f} | {result['errors']} |"
        )


def print_round_ratios(runs, floor_runs):
    """Prints each target's ratio to the floor of the same round, round by round, and their
    median: on a machine whose speed moves between rounds, steadier than best against best."""
    print("| target | ratio to the round's floor, by round | median |")
    print("|---|---|---:|")
    for name, target_runs in runs.items():
        ratios = [
            result["requests_per_second"] / floor["requests_per_second"]
            for result, floor in zip(target_runs, floor_runs)
        ]
        print(f"| {name} | {', '.join(f'{r:.2f}' for r in ratios)} | {median(ratios):.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8765)
    options = parser.parse_args()
    with serve(port=options.port, workers=options.workers) as base_url:
        floor = wrk(
            f"{base_url}/health/live", duration=options.duration, connections=options.connections
        )
    print_table({"GET /health/live (floor)": floor}, floor)


if __name__ == "__main__":
    main()
