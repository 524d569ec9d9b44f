"""verify_audit with several processes, when one of them cannot reach PostgreSQL: the command
fails in one line that says so, and records no verification outcome."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from audit.models import AuditCheckpoint, AuditVerification
from audit.tests.factories import SystemEventFactory
from audit.tests.trail import seal_all
from tests.support import server_environment

from .conftest import database_url

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_process_that_cannot_connect_fails_the_command_in_one_line(postgres_proxy):
    SystemEventFactory.create_batch(3)
    seal_all()
    assert AuditCheckpoint.objects.count() == 1
    # The command's own connection gets through; the processes' are refused.
    postgres_proxy.refuse(after=1)

    command = subprocess.run(
        [sys.executable, "manage.py", "verify_audit", "--jobs", "2"],
        cwd=settings.BASE_DIR,
        env=server_environment(
            DATABASE_URL=database_url(postgres_proxy.port), DATABASE_POOL_MAX_SIZE="1"
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert command.returncode == 1
    assert command.stderr.startswith(
        "CommandError: Audit log not verified: a verifying process could not connect to "
        "PostgreSQL ("
    )
    assert "Traceback" not in command.stderr
    assert "--jobs 1 verifies in this process" in command.stderr
    assert postgres_proxy.accepted >= 2
    assert not AuditVerification.objects.exists()


def test_a_process_that_stops_fails_the_command_in_one_line(postgres_proxy):
    SystemEventFactory.create_batch(3)
    seal_all()
    # The processes connect, then wait on their snapshot while one of them is killed.
    postgres_proxy.hold(b"SET TRANSACTION SNAPSHOT")
    command = subprocess.Popen(
        [sys.executable, "manage.py", "verify_audit", "--jobs", "2"],
        cwd=settings.BASE_DIR,
        env=server_environment(DATABASE_URL=database_url(postgres_proxy.port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        verifying = _verifying_processes(command.pid)
        os.kill(verifying[0], signal.SIGKILL)
        _, stderr = command.communicate(timeout=60)
    finally:
        command.kill()
        postgres_proxy.restore()

    assert command.returncode == 1
    assert stderr == (
        "CommandError: Audit log not verified: a verifying process stopped unexpectedly; "
        "--jobs 1 verifies in this process.\n"
    )
    assert not AuditVerification.objects.exists()


def _verifying_processes(pid):
    """The pids of the verifying processes `pid` has started, once they have started."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        verifying = []
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            with contextlib.suppress(FileNotFoundError):  # a child that has exited meanwhile
                if b"multiprocessing.spawn" in Path(f"/proc/{child}/cmdline").read_bytes():
                    verifying.append(int(child))
        if verifying:
            return verifying
        time.sleep(0.05)
    raise AssertionError("verify_audit started no verifying process")
