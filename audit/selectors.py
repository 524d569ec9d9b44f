"""Reads of the audit log."""

from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from .models import AuditCheckpoint, AuditLog


def audit_log_list():
    """Every record, newest first (the timestamp index; id breaks ties)."""
    return AuditLog.objects.order_by("-timestamp", "-id")


def audit_checkpoint_list():
    """Every checkpoint, oldest first, without its locator."""
    return AuditCheckpoint.objects.defer("records").order_by("sequence")


def audit_checkpoint_records(checkpoint):
    """The records from the checkpoint's first position through its last, in sealed order
    ((xid, id), the position index). Those of a purged range are gone: none."""
    in_range = RawSQL(
        '("audit_logs"."xid", "audit_logs"."id") >= (%s::xid8, %s)'
        ' AND ("audit_logs"."xid", "audit_logs"."id") <= (%s::xid8, %s)',
        [
            str(checkpoint.first_xid),
            checkpoint.first_record_id,
            str(checkpoint.last_xid),
            checkpoint.last_record_id,
        ],
        output_field=BooleanField(),
    )
    return (
        AuditLog.objects.alias(in_range=in_range)
        .filter(in_range=True)
        .order_by(RawSQL('"audit_logs"."xid"', []).asc(), "id")
    )
