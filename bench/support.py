"""What the benchmarks share: starting gunicorn and waiting for it, and the seeded events table.
Imported by the scripts under bench/ once they have set Django up."""

import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from django.core.management import call_command
from django.db import connection

BASE_DIR = Path(__file__).resolve().parent.parent
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
# Brain under gunicorn with its configuration (HOST, PORT, WEB_CONCURRENCY from the environment).
BRAIN_SERVER = [GUNICORN, "--config", "brain/gunicorn.conf.py"]
# The type of the events a benchmark writes: ensure_rows() removes them.
BENCH_EVENT_TYPE = "bench"


@contextmanager
def running(command, *, environment, ready_url, headers=None, log_path=None):
    """Runs `command` (a gunicorn) from the repository until the block ends, yielding its process;
    ready once a GET of `ready_url` with `headers` answers 2xx (another answer raises HTTPError).
    Its output goes to `log_path`, or nowhere."""
    log = open(log_path, "w") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        command, cwd=BASE_DIR, env=environment, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        request = urllib.request.Request(ready_url, headers=headers or {})
        while True:
            try:
                urllib.request.urlopen(request, timeout=60).close()
                break
            except urllib.error.HTTPError:
                raise
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"gunicorn did not start: {command}") from None
                time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=60)
        if log_path:
            log.close()


def ensure_rows(rows):
    """Leaves `rows` seeded events (`seed_events --seed 1`, over the last 30 days) and none a
    benchmark wrote in system_events, seeding afresh unless the table holds about that many
    (within 1%), then VACUUM ANALYZE."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM system_events WHERE event_type = %s", [BENCH_EVENT_TYPE])
        cursor.execute("SELECT count(*) FROM system_events")
        seed = abs(cursor.fetchone()[0] - rows) > rows // 100
        if seed:
            cursor.execute("TRUNCATE system_events RESTART IDENTITY")
    if seed:
        # seed_events closes this process's connections before it forks its loaders.
        call_command("seed_events", count=rows, seed=1, batch_size=50_000)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE system_events")
