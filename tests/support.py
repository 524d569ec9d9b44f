"""Helpers shared by the cross-app tests."""

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
