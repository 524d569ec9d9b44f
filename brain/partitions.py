"""Time partitions of PostgreSQL tables (declarative range partitioning on a timestamp column).

A partitioned table has one partition per UTC day or month, named `<table>_pYYYYMMDD` or
`<table>_pYYYYMM`, and a default partition `<table>_default` that takes a row no other partition
covers, so a write never fails for want of a partition. Its primary key is `(id, <column>)`:
PostgreSQL requires the partition key in every unique constraint. Ids still come from one
sequence, so an id names one row.

`partition_table()` converts a populated plain table in place (a migration calls it), carrying
over every index, constraint and trigger the catalog lists for it; `unpartition_table()` undoes
it. `partitions_create()` creates the partitions from now (or a given past moment) through
`ahead` periods, moving any rows the default partition holds for them. Apps register their
partitioned tables (`register()`), which `manage.py partitions` and the `partitions.maintain`
skill keep.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.migrations.operations.base import Operation

INTERVALS = ("day", "month")


@dataclass(frozen=True)
class Partition:
    name: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Partitioning:
    """A registered partitioned table: `ahead` periods are kept created after the current one;
    `retention()` is the age past which its rows are dropped (None: kept), and `drop(age)` the
    app's scheduled retention: it drops the partitions wholly older than `age`, keeping a
    partially expired one whole, and returns how many rows it removed."""

    table: str
    column: str
    interval: str
    ahead: int
    retention: Callable[[], timedelta | None]
    drop: Callable[[timedelta], int]


REGISTRY: dict[str, Partitioning] = {}


def register(partitioning: Partitioning) -> None:
    REGISTRY[partitioning.table] = partitioning


def period_start(interval: str, moment: datetime) -> datetime:
    """The start (UTC) of the day or month holding `moment`."""
    moment = moment.astimezone(UTC)
    if interval == "day":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def period_next(interval: str, start: datetime) -> datetime:
    if interval == "day":
        return start + timedelta(days=1)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def partition_name(table: str, interval: str, start: datetime) -> str:
    return f"{table}_p{start:%Y%m%d}" if interval == "day" else f"{table}_p{start:%Y%m}"


def default_name(table: str) -> str:
    return f"{table}_default"


_BOUNDS = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")


def _bounds(start: datetime, end: datetime) -> str:
    """A partition's bounds as DDL takes them: literals, not parameters."""
    return f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"


def partitions(cursor, table: str) -> list[Partition]:
    """The range partitions of `table` (the default partition aside), oldest first."""
    cursor.execute(
        """
        SELECT child.relname, pg_get_expr(child.relpartbound, child.oid)
        FROM pg_inherits JOIN pg_class AS child ON child.oid = pg_inherits.inhrelid
        WHERE pg_inherits.inhparent = %s::regclass
        """,
        [table],
    )
    found = []
    for name, bound in cursor.fetchall():
        match = _BOUNDS.search(bound)
        if match is None:
            continue
        cursor.execute("SELECT %s::timestamptz, %s::timestamptz", [match.group(1), match.group(2)])
        start, end = cursor.fetchone()
        found.append(Partition(name, start, end))
    return sorted(found, key=lambda partition: partition.start)


def partition_rows(cursor, name: str) -> int:
    cursor.execute(f"SELECT count(*) FROM {_quote(name)}")
    return cursor.fetchone()[0]


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def partition_create(cursor, table: str, column: str, interval: str, start: datetime) -> str:
    """Creates the partition of `table` for the period starting at `start`, unless it exists, and
    returns its name. Rows the default partition holds for that period move into it: the
    default partition is detached (its copies of the table's row triggers go with it), the rows
    moved, and it is attached again, in the caller's transaction; the table's statement triggers
    do not fire, as no row is added to or removed from the table. The table is locked first, as
    creating the partition needs it, so no row can reach the default partition meanwhile."""
    name = partition_name(table, interval, start)
    end = period_next(interval, start)
    cursor.execute("SELECT to_regclass(%s)", [name])
    if cursor.fetchone()[0] is not None:
        return name
    cursor.execute(f"LOCK TABLE {_quote(table)} IN ACCESS EXCLUSIVE MODE")
    default = default_name(table)
    bounds = _bounds(start, end)
    cursor.execute(
        f"SELECT EXISTS (SELECT FROM {_quote(default)} "
        f"WHERE {_quote(column)} >= %s AND {_quote(column)} < %s)",
        [start, end],
    )
    if not cursor.fetchone()[0]:
        cursor.execute(f"CREATE TABLE {_quote(name)} PARTITION OF {_quote(table)} {bounds}")
        return name
    cursor.execute(f"ALTER TABLE {_quote(table)} DETACH PARTITION {_quote(default)}")
    cursor.execute(f"CREATE TABLE {_quote(name)} PARTITION OF {_quote(table)} {bounds}")
    within = f"{_quote(column)} >= %s AND {_quote(column)} < %s"
    cursor.execute(
        f"INSERT INTO {_quote(name)} SELECT * FROM {_quote(default)} WHERE {within}", [start, end]
    )
    cursor.execute(f"DELETE FROM {_quote(default)} WHERE {within}", [start, end])
    cursor.execute(f"ALTER TABLE {_quote(table)} ATTACH PARTITION {_quote(default)} DEFAULT")
    return name


def partitions_missing(
    cursor, partitioning: Partitioning, now: datetime, *, since: datetime | None = None
) -> list[datetime]:
    """The starts of the periods from `since`'s (default: now's) through `ahead` after now's that
    have no partition."""
    existing = {partition.start for partition in partitions(cursor, partitioning.table)}
    last = period_start(partitioning.interval, now)
    for _ in range(partitioning.ahead):
        last = period_next(partitioning.interval, last)
    start = period_start(partitioning.interval, min(since or now, now))
    missing = []
    while start <= last:
        if start not in existing:
            missing.append(start)
        start = period_next(partitioning.interval, start)
    return missing


def partitions_create(
    partitioning: Partitioning, now: datetime, *, since: datetime | None = None
) -> list[str]:
    """Creates the missing partitions from `since`'s period (default: now's) through `ahead`
    after now's, each in its own short transaction that moves into it the rows the default
    partition holds for its period, and returns their names."""
    created = []
    with connection.cursor() as cursor:
        for start in partitions_missing(cursor, partitioning, now, since=since):
            with transaction.atomic():
                created.append(
                    partition_create(
                        cursor,
                        partitioning.table,
                        partitioning.column,
                        partitioning.interval,
                        start,
                    )
                )
    return created


def partitions_maintain(*, dry_run: bool = False) -> list[str]:
    """Keeps every registered table's partitions: creates the missing ones from now's period
    through `ahead` after it and, for a table with a retention, drops the partitions wholly
    older than it (the app's drop). Rows past the retention in a partially expired partition
    stay until the whole partition is (at most one period longer). Returns a line per partition
    created or dropped (with `dry_run`, that would be; nothing changes) and the rows dropped."""
    now = datetime.now(UTC)
    lines = []
    for partitioning in REGISTRY.values():
        table = partitioning.table
        with connection.cursor() as cursor:
            missing = partitions_missing(cursor, partitioning, now)
        if not dry_run:
            partitions_create(partitioning, now)
        for start in missing:
            end = period_next(partitioning.interval, start)
            name = partition_name(table, partitioning.interval, start)
            lines.append(f"create {name} [{start:%Y-%m-%d}, {end:%Y-%m-%d})")
        age = partitioning.retention()
        if age is None:
            continue
        with connection.cursor() as cursor:
            expired = partitions_expired(cursor, table, now - age)
        for partition in expired:
            lines.append(
                f"drop {partition.name} [{partition.start:%Y-%m-%d}, {partition.end:%Y-%m-%d})"
            )
        if not dry_run:
            removed = partitioning.drop(age)
            lines.append(f"dropped {removed} rows of {table} older than {age.days} days")
    return lines


def partitions_expired(cursor, table: str, cutoff: datetime) -> list[Partition]:
    """The partitions of `table` whose whole range is before `cutoff`, oldest first."""
    return [partition for partition in partitions(cursor, table) if partition.end <= cutoff]


# The table's own definitions that partition_table() carries over: every index but the primary
# key's, every constraint but the primary key and NOT NULL (the column definitions keep those),
# every trigger but PostgreSQL's internal ones (foreign keys).
_INDEXES = """
SELECT indexdef FROM pg_indexes
WHERE schemaname = current_schema() AND tablename = %s
  AND indexname::regclass NOT IN (
      SELECT conindid FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p')
ORDER BY indexname
"""
_CONSTRAINTS = """
SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid = %s::regclass AND contype NOT IN ('p', 'n')
ORDER BY conname
"""
_TRIGGERS = """
SELECT pg_get_triggerdef(oid) FROM pg_trigger
WHERE tgrelid = %s::regclass AND NOT tgisinternal AND tgparentid = 0
ORDER BY tgname
"""


def _definitions(cursor, table):
    cursor.execute(_INDEXES, [table, table])
    indexes = [row[0] for row in cursor.fetchall()]
    cursor.execute(_CONSTRAINTS, [table])
    constraints = cursor.fetchall()
    cursor.execute(_TRIGGERS, [table])
    triggers = [row[0] for row in cursor.fetchall()]
    cursor.execute(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attname = 'id'",
        [table],
    )
    id_type = cursor.fetchone()[0]
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    sequence = cursor.fetchone()[0]
    cursor.execute(f"SELECT last_value, is_called FROM {sequence}")
    last_value, is_called = cursor.fetchone()
    return indexes, constraints, triggers, id_type, (last_value, is_called)


def _rebuild(cursor, table, column, partition_by, key, after_create=None):
    """Replaces `table` by a new table of the same columns (partitioned by `partition_by`, SQL,
    when given), holding the same rows, with the old one's indexes, constraints, triggers and id
    sequence, and primary key `key`."""
    cursor.execute(f"LOCK TABLE {_quote(table)} IN ACCESS EXCLUSIVE MODE")
    indexes, constraints, triggers, id_type, (last_value, is_called) = _definitions(cursor, table)
    # The new table takes no default from the old id column; its sequence is made anew below.
    cursor.execute(f"ALTER TABLE {_quote(table)} ALTER COLUMN id DROP IDENTITY IF EXISTS")
    cursor.execute(f"ALTER TABLE {_quote(table)} ALTER COLUMN id DROP DEFAULT")
    new = f"{table}_rebuilt"
    cursor.execute(
        f"CREATE TABLE {_quote(new)} (LIKE {_quote(table)} INCLUDING DEFAULTS) {partition_by}"
    )
    if after_create is not None:
        after_create(new)
    cursor.execute(f"INSERT INTO {_quote(new)} SELECT * FROM {_quote(table)}")
    cursor.execute(f"DROP TABLE {_quote(table)}")
    cursor.execute(f"ALTER TABLE {_quote(new)} RENAME TO {_quote(table)}")
    cursor.execute(
        f"ALTER TABLE {_quote(table)} ADD CONSTRAINT {_quote(table + '_pkey')} PRIMARY KEY ({key})"
    )
    sequence = _quote(f"{table}_id_seq")
    cursor.execute(f"CREATE SEQUENCE {sequence} AS {id_type} OWNED BY {_quote(table)}.id")
    cursor.execute("SELECT setval(%s, %s, %s)", [f"{table}_id_seq", last_value, is_called])
    cursor.execute(
        f"ALTER TABLE {_quote(table)} ALTER COLUMN id SET DEFAULT nextval('{table}_id_seq')"
    )
    for definition in indexes:
        cursor.execute(definition)
    for name, kind, definition in constraints:
        if kind == "u" and column not in definition:
            raise ValueError(f"{table}: unique constraint {name} lacks the partition key")
        cursor.execute(f"ALTER TABLE {_quote(table)} ADD CONSTRAINT {_quote(name)} {definition}")
    for definition in triggers:
        cursor.execute(definition)
    cursor.execute(f"ANALYZE {_quote(table)}")


def partition_table(cursor, *, table: str, column: str, interval: str, ahead: int) -> None:
    """Converts the plain table `table` in place into one partitioned by range of `column`, in
    the caller's transaction: partitions for every period from its oldest row's through `ahead`
    periods after now, and the default partition. Its primary key becomes (id, column); its
    other indexes, constraints and triggers, read from the catalog, are created again under
    their names; its id sequence goes on where it was."""
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS}")
    cursor.execute(f"SELECT min({_quote(column)}) FROM {_quote(table)}")
    oldest = cursor.fetchone()[0]
    now = datetime.now(UTC)
    last = period_start(interval, now)
    for _ in range(ahead):
        last = period_next(interval, last)

    def create_partitions(new):
        start = period_start(interval, min(oldest or now, now))
        while start <= last:
            end = period_next(interval, start)
            cursor.execute(
                f"CREATE TABLE {_quote(partition_name(table, interval, start))} "
                f"PARTITION OF {_quote(new)} {_bounds(start, end)}"
            )
            start = end
        cursor.execute(
            f"CREATE TABLE {_quote(default_name(table))} PARTITION OF {_quote(new)} DEFAULT"
        )

    _rebuild(
        cursor,
        table,
        column,
        f"PARTITION BY RANGE ({_quote(column)})",
        f"id, {_quote(column)}",
        after_create=create_partitions,
    )


def unpartition_table(cursor, *, table: str, column: str) -> None:
    """Converts the partitioned table `table` back into a plain table with primary key (id),
    carrying over its rows, indexes, constraints, triggers and id sequence."""
    _rebuild(cursor, table, column, "", "id")


class PartitionByTime(Operation):
    """Migration operation: rebuilds `table` in place as partitioned by `interval` of `column`
    (partition_table), `ahead` partitions past the current one; reversed by unpartition_table.
    Django's state does not change: the model's key stays `id`."""

    reduces_to_sql = False
    reversible = True

    def __init__(self, table, column, interval="month", ahead=2):
        self.table, self.column, self.interval, self.ahead = table, column, interval, ahead

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        with schema_editor.connection.cursor() as cursor:
            partition_table(
                cursor,
                table=self.table,
                column=self.column,
                interval=self.interval,
                ahead=self.ahead,
            )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        with schema_editor.connection.cursor() as cursor:
            unpartition_table(cursor, table=self.table, column=self.column)

    def describe(self):
        return f"Partition {self.table} by {self.interval} of {self.column}"
