"""Executions and scheduled tasks on the live stream (scheduling.stream): statement-level
triggers append one change row per statement (per CHUNK rows) to the events' change log, kind
`execution` or `task`, with the rows it created, updated (as it left them) or deleted (as they
were), each with `owner_id`, the user its task belongs to, in the same transaction as the
change."""

from django.db import migrations

# Rows per change row, as for events: a reader holds at most this many rows of one change.
CHUNK = 1000

TABLES = {
    # table: (kind, the owner of a row, the join that finds it)
    "execution_results": (
        "execution",
        "task.user_id",
        "LEFT JOIN scheduled_tasks AS task ON task.id = changed_row.task_id",
    ),
    "scheduled_tasks": ("task", "changed_row.user_id", ""),
}


def append_change(kind, op, rows, owner, join):
    return f"""
        INSERT INTO system_event_changes (kind, op, events, event_count)
        SELECT '{kind}', '{op}', json_agg(changed ORDER BY changed.id), count(*)
        FROM (SELECT changed_row.*, {owner} AS owner_id,
                     (row_number() OVER (ORDER BY changed_row.id) - 1) / {CHUNK} AS chunk
              FROM {rows} AS changed_row {join}) AS changed
        GROUP BY chunk ORDER BY chunk;"""


def create(table, kind, owner, join):
    return f"""
CREATE FUNCTION {table}_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN {append_change(kind, "create", "new_rows", owner, join)}
    ELSIF TG_OP = 'UPDATE' THEN {append_change(kind, "update", "new_rows", owner, join)}
    ELSE {append_change(kind, "delete", "old_rows", owner, join)}
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER {table}_change_insert AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {table}_change();
CREATE TRIGGER {table}_change_update AFTER UPDATE ON {table}
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {table}_change();
CREATE TRIGGER {table}_change_delete AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {table}_change();
"""


def drop(table):
    return f"""
DROP TRIGGER {table}_change_delete ON {table};
DROP TRIGGER {table}_change_update ON {table};
DROP TRIGGER {table}_change_insert ON {table};
DROP FUNCTION {table}_change();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0005_change_kinds"),
        ("scheduling", "0007_scheduler_heartbeats"),
    ]

    operations = [
        migrations.RunSQL([create(table, *rest)], [drop(table)], elidable=False)
        for table, rest in TABLES.items()
    ]
