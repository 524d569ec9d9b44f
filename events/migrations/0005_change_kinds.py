"""The change log holds changes of other tables too (events.stream.kinds): `kind` names the
table's rows a change holds, `event` for system_events, whose trigger leaves it to the default.
Every kind shares one sequence of positions."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("events", "0004_event_changes")]

    operations = [
        migrations.AddField(
            model_name="eventchange",
            name="kind",
            field=models.CharField(default="event", max_length=20),
        ),
        migrations.RunSQL(
            "ALTER TABLE system_event_changes ADD COLUMN kind varchar(20) NOT NULL DEFAULT 'event';",
            "ALTER TABLE system_event_changes DROP COLUMN kind;",
            elidable=False,
        ),
    ]
