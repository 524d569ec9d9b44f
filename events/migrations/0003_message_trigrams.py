"""A trigram index on the events' message, for `search` on the event list and statistics: a
case-insensitive substring (Django's icontains, `UPPER(message) LIKE UPPER(...)`) of three
characters or more is then an index scan whose cost follows the matching rows, not the table.
PostgreSQL only (pg_trgm, a trusted extension any owner of the database may create), like the
event counts of 0002: other databases scan, and the model does not declare it.
"""

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations
from django.db.models.functions import Upper

MESSAGE_TRIGRAMS = GinIndex(
    OpClass(Upper("message"), name="gin_trgm_ops"), name="idx_system_events_message_trgm"
)


def add_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.add_index(apps.get_model("events", "SystemEvent"), MESSAGE_TRIGRAMS)


def remove_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.remove_index(apps.get_model("events", "SystemEvent"), MESSAGE_TRIGRAMS)


class Migration(migrations.Migration):
    dependencies = [("events", "0002_event_counts")]

    operations = [
        TrigramExtension(),
        migrations.RunPython(add_index, remove_index, elidable=False),
    ]
