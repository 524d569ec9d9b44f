"""Reads of the audit log."""

from .models import AuditLog


def audit_log_list():
    """Every record, newest first (the timestamp index; id breaks ties)."""
    return AuditLog.objects.order_by("-timestamp", "-id")


def audit_log_list_for_row(*, table_name, record_id, limit=50):
    """The newest `limit` records of one row (the (table_name, record_id, timestamp) index),
    newest first."""
    return list(
        AuditLog.objects.filter(table_name=table_name, record_id=str(record_id)).order_by(
            "-timestamp", "-id"
        )[:limit]
    )
