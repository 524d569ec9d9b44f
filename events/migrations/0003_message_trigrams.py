"""A trigram index on the events' message, for `search` on the event list and statistics
(pg_trgm, a trusted extension any owner of the database may create)."""

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations
from django.db.models.functions import Upper


class Migration(migrations.Migration):
    dependencies = [("events", "0002_event_counts")]

    operations = [
        TrigramExtension(),
        migrations.AddIndex(
            model_name="systemevent",
            index=GinIndex(
                OpClass(Upper("message"), name="gin_trgm_ops"),
                name="idx_system_events_message_trgm",
            ),
        ),
    ]
