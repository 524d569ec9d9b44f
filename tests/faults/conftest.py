"""Fixtures for fault tests: proxies in front of the real PostgreSQL and Redis, and Brain served
by gunicorn through them."""

import contextlib
import http.client
import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from django.conf import settings
from django.db import connection

from tests.support import free_port, server_environment

from .proxy import FaultProxy

GUNICORN = [sys.executable, "-m", "gunicorn"]


@pytest.fixture
def postgres_proxy():
    """A FaultProxy in front of the test database's PostgreSQL."""
    db = connection.settings_dict
    with FaultProxy((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))) as proxy:
        yield proxy


@pytest.fixture
def redis_proxy():
    """A FaultProxy in front of the cache's Redis."""
    location = urlsplit(settings.CACHES["default"]["LOCATION"])
    with FaultProxy((location.hostname, location.port or 6379)) as proxy:
        yield proxy


# Seconds past which a request counts as hung (gunicorn's worker timeout is 60): the timeouts
# that answer instead (connect, statement, Redis socket) do so long before, however loaded the
# machine. How fast they answer is printed for the benchmarks, never asserted.
HUNG = 10


def database_url(port=None):
    """The URL of the test database, through `port` when given."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{credentials}@{db['HOST']}:{port or db['PORT'] or 5432}/{db['NAME']}"


def redis_url(port=None):
    location = urlsplit(settings.CACHES["default"]["LOCATION"])
    return location._replace(netloc=f"{location.hostname}:{port or location.port or 6379}").geturl()


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes
    seconds: float

    def json(self):
        return json.loads(self.body)


class Server:
    """Brain under gunicorn in a process of its own, on the committed test database."""

    def __init__(self, port, process, log_path):
        self.port = port
        self.process = process
        self.log_path = log_path

    def request(self, method, path, body=None, headers=None, timeout=30):
        """Sends one request on a new connection; the reply and the seconds it took."""
        headers = dict(headers or {})
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        started = time.perf_counter()
        client = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            client.request(method, path, body=body, headers=headers)
            response = client.getresponse()
            data = response.read()
        finally:
            client.close()
        return Reply(
            response.status,
            {key.lower(): value for key, value in response.getheaders()},
            data,
            time.perf_counter() - started,
        )

    def log(self):
        return Path(self.log_path).read_text(errors="replace")


@pytest.fixture
def serve(tmp_path):
    """Starts Brain under gunicorn (2 workers of 8 threads) with DATABASE_URL and REDIS_URL as
    given (through a proxy's port, say); stops it with SIGTERM at the end."""
    started = []

    def start(*, database=None, redis=None, **environment):
        port = free_port()
        log_path = tmp_path / f"gunicorn-{port}.log"
        env = server_environment(
            DATABASE_URL=database or database_url(),
            REDIS_URL=redis or redis_url(),
            HOST="127.0.0.1",
            PORT=str(port),
            WEB_CONCURRENCY="2",
            WEB_THREADS="8",
            **environment,
        )
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [*GUNICORN, "--config", "brain/gunicorn.conf.py"],
                cwd=settings.BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        server = Server(port, process, log_path)
        started.append(server)
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError):
                if server.request("GET", "/health/live", timeout=2).status == 200:
                    return server
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"gunicorn did not start:\n{server.log()}")
            time.sleep(0.1)

    yield start
    for server in started:
        if server.process.poll() is None:
            server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=35)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
