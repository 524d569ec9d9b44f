"""audit_logs partitioned by month of `timestamp` (brain.partitions): the table is rebuilt in
place with its rows (their `xid` kept, so the sealed chain is unchanged), indexes, constraints
and triggers (the append-only rule's and any another migration added), its primary key becoming
(id, timestamp). Django's state does not change: the model's key stays `id`."""

from django.db import migrations

from brain import partitions

TABLE, COLUMN = "audit_logs", "timestamp"


def forward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        partitions.partition_table(cursor, table=TABLE, column=COLUMN, interval="month", ahead=2)


def backward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        partitions.unpartition_table(cursor, table=TABLE, column=COLUMN)


class Migration(migrations.Migration):
    dependencies = [("audit", "0007_console_indexes")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
