"""system_events' monthly partitions (brain.partitions; migration events 0007): their
settings, and the retention that drops a whole expired partition."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

from audit import recording
from audit.models import Operation
from brain import partitions

from .cache import invalidate_after_commit
from .models import SystemEvent
from .stream import log

TABLE = SystemEvent._meta.db_table

# The kept counts (events.counts) lose a dropped partition's events, in the drop's transaction.
# A partition is one month (INTERVAL, the counts' own period): its hours and its month are whole,
# so the kept rows of its range are exactly its events per hour and severity and per type, source
# and month: negating their sums reads a few hundred rows where grouping the partition's rows
# reads them all.
HOURS_UNCOUNT = """
INSERT INTO system_event_hour_counts (hour, severity, count)
SELECT hour, severity, -sum(count) FROM system_event_hour_counts
WHERE hour >= %(start)s AND hour < %(end)s GROUP BY 1, 2 HAVING sum(count) <> 0
RETURNING -count
"""
TYPES_UNCOUNT = """
INSERT INTO system_event_type_source_counts (event_type, source, month, count)
SELECT event_type, source, month, -sum(count) FROM system_event_type_source_counts
WHERE month >= %(start)s AND month < %(end)s GROUP BY 1, 2, 3 HAVING sum(count) <> 0
"""


INTERVAL = "month"
AHEAD = 2


def retention() -> timedelta | None:
    """EVENT_RETENTION_DAYS as a timedelta; None when events are kept (the default)."""
    days = settings.EVENT_RETENTION_DAYS
    return timedelta(days=days) if days else None


def event_partitions_drop(*, older_than: datetime, progress=None) -> int:
    """Drops every partition of system_events whose whole month is before `older_than`, oldest
    first, each in its own transaction that also takes its events out of the kept counts and
    writes one audit record (DELETE of the partition, with its row count) and one `purge`
    change of the live stream (its month's range). Invalidates every cached event, list and the
    stats after commit. Returns how many events went; `progress(n)` is called after each
    partition."""
    dropped = 0
    with connection.cursor() as cursor:
        expired = partitions.partitions_expired(cursor, TABLE, older_than)
    for partition in expired:
        with transaction.atomic(), connection.cursor() as cursor:
            count = partition_drop(cursor, partition)
        dropped += count
        if progress is not None:
            progress(count)
    return dropped


def partition_drop(cursor, partition) -> int:
    """Drops `partition` in the current transaction, correcting the kept counts and writing its
    audit record and its `purge` change (events.stream.log); returns its number of events."""
    quoted = connection.ops.quote_name(partition.name)
    # Writes to the partition wait from here; reads go on until the drop itself.
    cursor.execute(f"LOCK TABLE {quoted} IN SHARE MODE")
    cursor.execute(HOURS_UNCOUNT, {"start": partition.start, "end": partition.end})
    count = sum(row[0] for row in cursor.fetchall())
    cursor.execute(TYPES_UNCOUNT, {"start": partition.start, "end": partition.end})
    recording.write(
        [
            recording.Entry(
                Operation.DELETE,
                TABLE,
                partition.name,
                {
                    "partition": partition.name,
                    "from": partition.start.isoformat(),
                    "to": partition.end.isoformat(),
                    "rows": count,
                },
            )
        ],
        connection.alias,
    )
    log.purge_append(cursor, start=partition.start, before=partition.end)
    # The table before the partition, the order every reader takes them in.
    cursor.execute(f"LOCK TABLE {connection.ops.quote_name(TABLE)} IN ACCESS EXCLUSIVE MODE")
    cursor.execute(f"DROP TABLE {quoted}")
    invalidate_after_commit(all_events=True, all_types=True)
    return count
