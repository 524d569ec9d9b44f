"""Event counts kept by PostgreSQL, so the unfiltered statistics and the dashboard read a few
hundred rows instead of scanning system_events.

Statement-level triggers on system_events (migrations events 0002 and 0008) append the net
change each INSERT, UPDATE or DELETE statement made (COPY and the ORM's bulk paths included) to
the number of events per UTC hour and severity (EventHourCount) and per type, source and UTC
month (EventTypeSourceCount): one row per group it changed, with a positive or negative count, in
the same transaction as the change; TRUNCATE empties both. In every snapshot the sum of a group's
rows is its exact number of events. Writers only append, so concurrent writers never wait on each
other. Reads sum each group's rows as they find them (the counts per type or source sum every
month's) and write nothing; `fold()`, run off the request path (the scheduled
`events.fold_counts` skill, `fold_event_counts`, the end of every purge), merges each group's
rows into one, so a read sums about one row per group. Both tables are keyed by time so that
dropping a month's partition (events.partitions) takes its events out by negating its rows.
"""

from django.db import connection

from .models import EventHourCount, EventTypeSourceCount

# Folding a table: its rows in groups that have a row appended since the last fold are replaced,
# in one statement, by one folded row per group. A row another fold has locked is skipped (never
# waited for), so concurrent folds neither block nor deadlock; each row is moved once.
FOLD = """
WITH moved AS (
    DELETE FROM {table} WHERE id IN (
        SELECT id FROM {table}
        WHERE {key} IN (SELECT {key} FROM {table} WHERE NOT folded)
        FOR UPDATE SKIP LOCKED
    )
    RETURNING {columns}, count
)
INSERT INTO {table} ({columns}, count, folded)
SELECT {columns}, sum(count), true FROM moved GROUP BY {columns} HAVING sum(count) <> 0
"""

FOLDS = [
    FOLD.format(table=model._meta.db_table, key=columns[0], columns=", ".join(columns))
    for model, columns in [
        (EventHourCount, ["hour", "severity"]),
        (EventTypeSourceCount, ["event_type", "source", "month"]),
    ]
]


def fold():
    """Merges the rows appended since the last fold into one row per group (a group whose count
    is back to zero keeps no row) and returns how many folded rows it wrote. Two statements, each
    atomic; the sums are unchanged, and rows another fold holds are skipped, never waited for."""
    written = 0
    with connection.cursor() as cursor:
        for statement in FOLDS:
            cursor.execute(statement)
            written += cursor.rowcount
    return written
