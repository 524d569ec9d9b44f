"""The change log behind the live events stream (events.stream): statement-level triggers on
system_events append one row per statement (per CHUNK events) with the rows it created, updated
(as it left them) or deleted (as they were), in the same transaction as the change. The model is
unmanaged: the table is this migration's SQL.
"""

from django.db import migrations, models

# Events per change row: a statement writing more appends several rows, so that a reader holds
# at most this many events of one row in memory.
CHUNK = 1000


def append_change(op, rows):
    return f"""
        INSERT INTO system_event_changes (op, events, event_count)
        SELECT '{op}', json_agg(changed ORDER BY changed.id), count(*)
        FROM (SELECT *, (row_number() OVER (ORDER BY id) - 1) / {CHUNK} AS chunk
              FROM {rows}) AS changed
        GROUP BY chunk ORDER BY chunk;"""


CREATE = f"""
CREATE TABLE system_event_changes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    op varchar(6) NOT NULL,
    events json NOT NULL,
    event_count integer NOT NULL,
    last_position bigint UNIQUE,
    stamped_at timestamp with time zone
);
CREATE INDEX idx_event_changes_pending ON system_event_changes (id) WHERE last_position IS NULL;
CREATE FUNCTION system_events_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN {append_change("create", "new_rows")}
    ELSIF TG_OP = 'UPDATE' THEN {append_change("update", "new_rows")}
    ELSE {append_change("delete", "old_rows")}
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER system_events_change_insert AFTER INSERT ON system_events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION system_events_change();
CREATE TRIGGER system_events_change_update AFTER UPDATE ON system_events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION system_events_change();
CREATE TRIGGER system_events_change_delete AFTER DELETE ON system_events
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION system_events_change();
"""

DROP = """
DROP TRIGGER system_events_change_delete ON system_events;
DROP TRIGGER system_events_change_update ON system_events;
DROP TRIGGER system_events_change_insert ON system_events;
DROP FUNCTION system_events_change();
DROP TABLE system_event_changes;
"""


class Migration(migrations.Migration):
    dependencies = [("events", "0003_message_trigrams")]

    operations = [
        migrations.CreateModel(
            name="EventChange",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("op", models.CharField(max_length=6)),
                ("event_count", models.IntegerField()),
                ("last_position", models.BigIntegerField(null=True, unique=True)),
                ("stamped_at", models.DateTimeField(null=True)),
            ],
            options={"db_table": "system_event_changes", "managed": False},
        ),
        migrations.RunSQL([CREATE], [DROP], elidable=False),
    ]
