"""The change log read in order: positions, reads and retention of system_event_changes.

PostgreSQL's triggers append each statement's change in its transaction (migration events 0004),
so a row exists if and only if its transaction committed. A row gets its positions when it is
stamped, after commit: `stamp()` numbers every visible unstamped row, in the order of their ids,
after the highest position already given, one stamp at a time (a transaction-level advisory
lock). So the positions of every row stamped so far run without a hole from the first kept to the
head, a row committed later always gets later positions, and a change that had to see another
one's commit (a delete of an event created by another transaction, two updates of one row)
always comes after it. Nothing waits for unrelated transactions still running.
"""

from dataclasses import dataclass

from django.db import connection, transaction

from events.models import SystemEvent

# pg_advisory_xact_lock key of the stamper: "evnt" in ASCII.
STAMP_LOCK = 0x65766E74
FIELDS = SystemEvent._meta.concrete_fields
COLUMNS = [field.column for field in FIELDS]
# The model's own conversions of what the cursor returns (JSONField parses its text).
CONVERTERS = [
    (field.column, field.from_db_value) for field in FIELDS if hasattr(field, "from_db_value")
]

STAMP = """
WITH head AS (
    SELECT coalesce(max(last_position), 0) AS position FROM system_event_changes
), pending AS (
    SELECT id, sum(event_count) OVER (ORDER BY id) AS running
    FROM system_event_changes WHERE last_position IS NULL
)
UPDATE system_event_changes AS change
SET last_position = head.position + pending.running, stamped_at = clock_timestamp()
FROM head, pending WHERE change.id = pending.id
"""

READ = f"""
SELECT change.last_position - change.event_count + item.n AS position, change.op,
       {", ".join(f"event.{column}" for column in COLUMNS)}
FROM system_event_changes AS change,
     json_array_elements(change.events) WITH ORDINALITY AS item(value, n),
     LATERAL json_populate_record(NULL::system_events, item.value) AS event
WHERE change.last_position > %(after)s
  AND change.last_position - change.event_count < %(until)s
  AND change.last_position - change.event_count + item.n > %(after)s
  AND change.last_position - change.event_count + item.n <= %(until)s
ORDER BY change.last_position, item.n
"""


@dataclass(frozen=True)
class Change:
    """One event's change at one position: `event` holds every column, as the change left it
    (a delete: as it was)."""

    position: int
    op: str
    event: dict


def stamp():
    """Gives positions to every committed change without one (one transaction, serialized with
    any other stamp) and returns the head: the highest position given."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [STAMP_LOCK])
        cursor.execute(STAMP)
        cursor.execute("SELECT coalesce(max(last_position), 0) FROM system_event_changes")
        return cursor.fetchone()[0]


def bounds():
    """(oldest, head): a client may resume after any position from `oldest` (the last one no
    longer kept, 0 when nothing was pruned) to `head` (the highest stamped). One query."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT (SELECT last_position - event_count FROM system_event_changes
                    WHERE last_position IS NOT NULL ORDER BY last_position LIMIT 1),
                   (SELECT max(last_position) FROM system_event_changes)
            """
        )
        oldest, head = cursor.fetchone()
    return oldest or 0, head or 0


def read(*, after, until):
    """The changes at positions after `after` up to `until` (stamped ones: at most the head), in
    order, each event as the change left it."""
    if until <= after:
        return []
    with connection.cursor() as cursor:
        cursor.execute(READ, {"after": after, "until": until})
        changes = []
        for position, op, *values in cursor.fetchall():
            event = dict(zip(COLUMNS, values))
            for column, convert in CONVERTERS:
                event[column] = convert(event[column], None, connection)
            changes.append(Change(position, op, event))
        return changes


def prune(*, older_than):
    """Deletes the changes stamped before `older_than`, by position (the kept ones always run from
    the oldest kept to the head without a hole), and always keeps the head's. Returns how many
    rows it deleted."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            DELETE FROM system_event_changes WHERE last_position <= (
                SELECT max(last_position) FROM system_event_changes WHERE stamped_at < %s
            ) AND last_position < (SELECT max(last_position) FROM system_event_changes)
            """,
            [older_than],
        )
        return cursor.rowcount
