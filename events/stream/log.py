"""The change log read in order: positions, reads and retention of system_event_changes, which
holds the changes of system_events and of every registered kind (events.stream.kinds).

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
from functools import cache

from django.db import connection, transaction

from events.models import SystemEvent

from . import kinds

# pg_advisory_xact_lock key of the stamper: "evnt" in ASCII.
STAMP_LOCK = 0x65766E74

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

READ = """
SELECT change.last_position - change.event_count + item.n AS position, change.op,
       (item.value ->> 'owner_id')::bigint AS owner_id, {columns}
FROM system_event_changes AS change,
     json_array_elements(change.events) WITH ORDINALITY AS item(value, n),
     LATERAL json_populate_record(NULL::{table}, item.value) AS changed
WHERE change.kind = %(kind)s
  AND change.last_position > %(after)s
  AND change.last_position - change.event_count < %(until)s
  AND change.last_position - change.event_count + item.n > %(after)s
  AND change.last_position - change.event_count + item.n <= %(until)s
ORDER BY change.last_position, item.n
"""


@dataclass(frozen=True)
class Change:
    """One row's change at one position: `row` holds every column (by attribute name), as the
    change left it (a delete: as it was); `owner_id` is the user the row belongs to (None for
    events, which have no owner)."""

    position: int
    op: str
    kind: str
    row: dict
    owner_id: int | None = None


@dataclass(frozen=True)
class _Table:
    """How the changes of one kind are read: its query, its columns' attribute names and the
    model's own conversions of what the cursor returns (JSONField parses its text)."""

    kind: str
    query: str
    names: list
    converters: list


@cache
def _table(kind, model):
    fields = model._meta.concrete_fields
    columns = ", ".join(f"changed.{connection.ops.quote_name(field.column)}" for field in fields)
    query = READ.format(columns=columns, table=connection.ops.quote_name(model._meta.db_table))
    converters = [
        (field.attname, field.from_db_value) for field in fields if hasattr(field, "from_db_value")
    ]
    return _Table(kind, query, [field.attname for field in fields], converters)


def _tables():
    others = [_table(kind.name, kind.model) for kind in kinds.registered()]
    return [_table(kinds.EVENT, SystemEvent), *others]


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
    order, each row as the change left it: one query per kind."""
    if until <= after:
        return []
    changes = []
    with connection.cursor() as cursor:
        for table in _tables():
            cursor.execute(table.query, {"kind": table.kind, "after": after, "until": until})
            for position, op, owner_id, *values in cursor.fetchall():
                row = dict(zip(table.names, values))
                for name, convert in table.converters:
                    row[name] = convert(row[name], None, connection)
                changes.append(Change(position, op, table.kind, row, owner_id))
    changes.sort(key=lambda change: change.position)
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
