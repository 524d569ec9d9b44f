"""Helpers shared by the cross-app tests."""

import socket

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
