"""Helpers shared by the scheduler tests."""

import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.models import Permission
from django.db import connection, connections

from scheduling.models import ScheduledTask


def make_task(user, *, skill_name="demo.echo", cron="0 0 1 1 *", next_run_at=None, **fields):
    return ScheduledTask.objects.create(
        user=user, skill_name=skill_name, schedule_cron=cron, next_run_at=next_run_at, **fields
    )


def maintenance_permission():
    """scheduling.run_maintenance_skills, the permission maintenance skills need."""
    return Permission.objects.get(
        content_type__app_label="scheduling", codename="run_maintenance_skills"
    )


def running_clock(start):
    """A clock that starts at `start` and advances in real time."""
    origin = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - origin)


def subprocess_database_url():
    """The URL of the database this test runs on (pytest-django's test_<NAME>)."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{credentials}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def start_scheduler(log_path, *arguments):
    """Starts `manage.py run_scheduler` in its own process on the test database, logging to
    `log_path`."""
    environment = {**os.environ, "DATABASE_URL": subprocess_database_url()}
    environment.pop("DJANGO_SETTINGS_MODULE", None)  # the command's own settings, as deployed
    with Path(log_path).open("w") as log:
        return subprocess.Popen(
            [sys.executable, "manage.py", "run_scheduler", *arguments],
            cwd=settings.BASE_DIR,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_for(condition, *, timeout, interval=0.05, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout} s waiting for {message}.")


def wait_started(log_paths, *, timeout=30):
    """Waits until every scheduler process logged its start."""
    wait_for(
        lambda: all("scheduler started" in Path(path).read_text() for path in log_paths),
        timeout=timeout,
        message="the schedulers to start",
    )


@contextmanager
def scheduler_in_thread(scheduler):
    """Runs `scheduler` in a thread for the block (its connections closed when it returns), then
    stops it and joins the thread; yields the thread."""

    def run():
        try:
            scheduler.run()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        yield thread
    finally:
        scheduler.stop()
        thread.join(timeout=10)
