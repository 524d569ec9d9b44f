"""Helpers shared by the cross-app tests."""

import os
import socket
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from audit.models import AuditLog
from events.models import SystemEvent
from scheduling.models import Agent, ExecutionResult, Project, ScheduledTask


def stored_rows():
    """Every row the API could write, and the audit trail, as comparable values: a test that
    expects nothing to change compares them before and after."""
    return [
        list(model.objects.order_by("pk").values())
        for model in (SystemEvent, Project, ScheduledTask, Agent, ExecutionResult, AuditLog)
    ]


def free_port():
    """A TCP port on 127.0.0.1 no one listens on now, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_environment(**overrides):
    """The environment for a server or command a test starts, on this test's own database and
    Redis database: DATABASE_URL and REDIS_URL as this process uses them, and no
    PYTEST_XDIST_WORKER, from which the test settings would move Redis to another database."""
    db = connection.settings_dict
    environment = {k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"}
    environment["DATABASE_URL"] = (
        f"postgres://{quote(db['USER'] or '', safe='')}@{db['HOST']}:{db['PORT'] or 5432}/"
        f"{db['NAME']}"
    )
    environment["REDIS_URL"] = settings.CACHES["default"]["LOCATION"]
    return {**environment, **overrides}
