"""audit_logs partitioned by month of `timestamp` (brain.partitions): the table is rebuilt in
place with its rows (their `xid` kept, so the sealed chain is unchanged), indexes, constraints
and triggers (the append-only rule's and any another migration added), its primary key becoming
(id, timestamp). Django's state does not change: the model's key stays `id`."""

from django.db import migrations

from brain import partitions


class Migration(migrations.Migration):
    dependencies = [("audit", "0007_console_indexes")]

    operations = [partitions.PartitionByTime("audit_logs", "timestamp")]
