"""Reads of the audit log."""

from .models import AuditLog


def audit_log_list():
    """Every record, newest first (the timestamp index; id breaks ties)."""
    return AuditLog.objects.order_by("-timestamp", "-id")
