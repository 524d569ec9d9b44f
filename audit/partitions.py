"""audit_logs' monthly partitions (brain.partitions; migration audit 0007): their settings. A
whole expired partition is dropped by the purge (audit.purge), the one way records go."""

from datetime import timedelta

from django.conf import settings

INTERVAL = "month"
AHEAD = 2


def retention() -> timedelta | None:
    """AUDIT_RETENTION_DAYS as a timedelta; None when records are kept (the default)."""
    days = settings.AUDIT_RETENTION_DAYS
    return timedelta(days=days) if days else None
