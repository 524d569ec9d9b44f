"""The console's indexes on audit_logs: the record index led by `record_id`, so that a search by
record id alone is an index probe (table_name and record_id together still use it), and the
timestamp index extended by `id`, the lists' tie-breaker, so that the rows a deep page skips are
read from the index alone. Built CONCURRENTLY, so audited writes go on meanwhile (hence not
atomic)."""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("audit", "0006_checkpoints_append_only")]

    operations = [
        RemoveIndexConcurrently(model_name="auditlog", name="idx_audit_logs_record"),
        AddIndexConcurrently(
            model_name="auditlog",
            index=models.Index(
                fields=["record_id", "table_name", "timestamp"], name="idx_audit_logs_record"
            ),
        ),
        RemoveIndexConcurrently(model_name="auditlog", name="idx_audit_logs_timestamp"),
        AddIndexConcurrently(
            model_name="auditlog",
            index=models.Index(fields=["timestamp", "id"], name="idx_audit_logs_timestamp"),
        ),
    ]
