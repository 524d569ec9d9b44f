"""Retention: the one way audit records are deleted."""

from django.db import connections, transaction
from django.utils import timezone

from .models import AuditLog


def allow_purge(connection):
    """Lets the current transaction delete from audit_logs (the append-only trigger reads this
    transaction-local flag). Must run inside `transaction.atomic()`."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL brain.audit_purge = 'on'")


def audit_purge_count(*, older_than, using="default"):
    """How many records audit_purge(older_than=...) would delete now."""
    cutoff = timezone.now() - older_than
    return AuditLog.objects.using(using).filter(timestamp__lt=cutoff).count()


def audit_purge(*, older_than, batch_size=10_000, using="default", progress=None):
    """Deletes the records older than `older_than` (a timedelta), `batch_size` at a time, each
    batch in its own short transaction. Returns how many were deleted. `progress(n)` is called
    after each batch."""
    cutoff = timezone.now() - older_than
    deleted = 0
    while True:
        with transaction.atomic(using=using):
            allow_purge(connections[using])
            ids = list(
                AuditLog.objects.using(using)
                .filter(timestamp__lt=cutoff)
                .order_by("timestamp")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                return deleted
            count = AuditLog.objects.using(using).filter(pk__in=ids).delete()[0]
        deleted += count
        if progress is not None:
            progress(count)
