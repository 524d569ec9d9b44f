"""system_events partitioned by month of `timestamp` (brain.partitions): the table is rebuilt in
place with its rows, indexes, constraints and triggers (the kept counts', the change log's and
any another migration added), its primary key becoming (id, timestamp). Django's state does not
change: the model's key stays `id`."""

from django.db import migrations

from brain import partitions


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0006_message_max_length"),
        # Its triggers must exist first, so that they are carried over.
        ("scheduling", "0008_stream_changes"),
    ]

    operations = [partitions.PartitionByTime("system_events", "timestamp")]
