"""The unfiltered statistics read while unfolded event-count rows pile up: on --rows seeded events
(default 1,000,000) with the counts folded, --writes single-row INSERT statements (default
10,000; each appends one row to each count table, as an API create does), then the uncached
statistics (selectors.event_stats) and the dashboard's series (selectors.event_series), timed
unfolded, then the fold, then the same reads folded. Reads write nothing, so they sum whatever
rows they find. Run on demand (`make bench-counts`), never from the test suite.

    .venv/bin/python bench/counts.py [--rows 1000000] [--writes 10000] [--reads 20]
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brain.settings.base")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from bench.support import BENCH_EVENT_TYPE, ensure_rows  # noqa: E402
from events.models import EventHourCount, EventTypeSourceCount  # noqa: E402
from events.selectors import event_series, event_stats  # noqa: E402
from events.services import event_counts_fold  # noqa: E402


def count_rows():
    return EventHourCount.objects.count() + EventTypeSourceCount.objects.count()


def timed(function, repeat):
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        runs.append((time.perf_counter() - start) * 1000)
    runs.sort()
    return statistics.median(runs), runs[min(len(runs) - 1, round(0.95 * (len(runs) - 1)))]


def reads(name, repeat):
    rows = count_rows()
    for label, function in [("event_stats()", event_stats), ("event_series()", event_series)]:
        p50, p95 = timed(function, repeat)
        print(f"| {name} | {rows:,} | {label} | {p50:.1f} | {p95:.1f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--writes", type=int, default=10_000)
    parser.add_argument("--reads", type=int, default=20)
    options = parser.parse_args()

    ensure_rows(options.rows)
    event_counts_fold()
    expected = event_stats()["total"] + options.writes
    print(f"{options.writes:,} single-row INSERTs on {options.rows:,} events")
    print("| counts | count rows | read | p50 ms | p95 ms |")
    print("|---|---|---|---|---|")
    reads("folded", options.reads)
    with connection.cursor() as cursor:
        for _ in range(options.writes):
            cursor.execute(
                "INSERT INTO system_events (event_type, severity, message, timestamp)"
                " VALUES (%s, 'info', 'counts', now())",
                [BENCH_EVENT_TYPE],
            )
    reads(f"{options.writes:,} writes unfolded", options.reads)
    if event_stats()["total"] != expected:
        raise RuntimeError("the statistics of unfolded counts are not the events' number")
    start = time.perf_counter()
    written = event_counts_fold()
    folding = (time.perf_counter() - start) * 1000
    reads("folded again", options.reads)
    print(f"\nThe fold: {folding:.1f} ms, {written} folded rows written.")


if __name__ == "__main__":
    main()
