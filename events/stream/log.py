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

A dropped partition of system_events is one change, op `purge`, appended in the drop's
transaction (`purge_append()`): its one item names the time range whose events are gone.
"""

from dataclasses import dataclass
from functools import cache

from django.db import connection, transaction

from events.models import SystemEvent

from . import kinds

# The op of a dropped partition's change: its item is {"from": ..., "before": ...}, not a row.
PURGE = "purge"

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
SELECT change.last_position - change.event_count + item.n AS position, change.op, change.kind,
       (item.value ->> 'owner_id')::bigint AS owner_id,
       CASE WHEN change.op = 'purge' THEN item.value END AS purge, {columns}
FROM system_event_changes AS change,
     json_array_elements(change.events) WITH ORDINALITY AS item(value, n){records}
WHERE change.kind = ANY(%(kinds)s)
  AND change.last_position > %(after)s
  AND change.last_position - change.event_count < %(until)s
  AND change.last_position - change.event_count + item.n > %(after)s
  AND change.last_position - change.event_count + item.n <= %(until)s
ORDER BY change.last_position, item.n
"""
# One kind's columns, all NULL (and its JSON not parsed) on the other kinds' rows.
RECORD = """,
     LATERAL json_populate_record(
         NULL::{table}, CASE WHEN change.kind = %({parameter})s THEN item.value END) AS {alias}"""


@dataclass(frozen=True)
class Change:
    """One row's change at one position: `row` holds every column (by attribute name), as the
    change left it (a delete: as it was); `owner_id` is the user the row belongs to (None for
    events, which have no owner). A purge's `row` is its range: `from` and `before`, ISO 8601."""

    position: int
    op: str
    kind: str
    row: dict
    owner_id: int | None = None


@dataclass(frozen=True)
class _Layout:
    """Where one kind's columns are in READ's rows: their attribute names from `start` on, and
    the model's own conversions of what the cursor returns (JSONField parses its text)."""

    start: int
    names: list
    converters: list


@cache
def _reader(models):
    """READ for the kinds of `models` ((kind, model) pairs), its parameters and each kind's
    layout."""
    columns, records, parameters, layouts = [], [], {}, {}
    for number, (kind, model) in enumerate(models):
        alias = f"kind_{number}"  # the record's alias, and the parameter holding its kind
        fields = model._meta.concrete_fields
        layouts[kind] = _Layout(
            len(columns),
            [field.attname for field in fields],
            [(f.attname, f.from_db_value) for f in fields if hasattr(f, "from_db_value")],
        )
        columns += [f"{alias}.{connection.ops.quote_name(field.column)}" for field in fields]
        table = connection.ops.quote_name(model._meta.db_table)
        records.append(RECORD.format(table=table, parameter=alias, alias=alias))
        parameters[alias] = kind
    query = READ.format(columns=", ".join(columns), records="".join(records))
    return query, {"kinds": list(layouts), **parameters}, layouts


def _models():
    return ((kinds.EVENT, SystemEvent), *((kind.name, kind.model) for kind in kinds.registered()))


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
    order, each row as the change left it: events and every registered kind, in one query."""
    if until <= after:
        return []
    query, parameters, layouts = _reader(_models())
    with connection.cursor() as cursor:
        cursor.execute(query, {**parameters, "after": after, "until": until})
        changes = []
        for position, op, kind, owner_id, purge, *values in cursor.fetchall():
            if purge is not None:
                changes.append(Change(position, op, kind, purge))
                continue
            layout = layouts[kind]
            row = dict(zip(layout.names, values[layout.start :]))
            for name, convert in layout.converters:
                row[name] = convert(row[name], None, connection)
            changes.append(Change(position, op, kind, row, owner_id))
        return changes


def purge_append(cursor, *, start, before):
    """Appends, in the current transaction, the change saying that every event with a timestamp
    from `start` up to `before` is gone (a dropped partition): one position, read in order with
    the others, and nothing if the transaction rolls back."""
    cursor.execute(
        """
        INSERT INTO system_event_changes (op, kind, events, event_count)
        VALUES (%s, %s,
                json_build_array(json_build_object('from', %s::text, 'before', %s::text)), 1)
        """,
        [PURGE, kinds.EVENT, start.isoformat(), before.isoformat()],
    )


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
