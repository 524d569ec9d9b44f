"""Writes of system events. Every function runs in one transaction and leaves the caches
invalidated after commit: single-row writes through the model signals (events.receivers), bulk
writes through the model's QuerySet (events.querysets), which also audits them, and the COPY load
and the purge explicitly."""

from datetime import datetime, timedelta
from typing import Any

import msgspec
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.services import audit_log_copy_created
from brain import partitions
from brain.db.rows import lock_row
from brain.services import assign

from . import counts
from .cache import invalidate_after_commit, pooled_invalidation
from .models import SystemEvent
from .partitions import TABLE, event_partitions_drop
from .schemas import EventsRefused, event_changes_validate, event_time_window, event_validate
from .stream import log

UPDATABLE_FIELDS = ("event_type", "severity", "message", "details", "source", "timestamp")
PURGE_BATCH_SIZE = 10_000


@transaction.atomic
def event_create(
    *,
    event_type: str,
    severity: str,
    message: str,
    details: dict[str, Any] | None = None,
    source: str | None = None,
    timestamp: datetime | None = None,
) -> SystemEvent:
    """Creates one event (one INSERT); `timestamp` defaults to now."""
    event = SystemEvent(
        event_type=event_type,
        severity=severity,
        message=message,
        details=details,
        source=source,
        timestamp=timestamp or timezone.now(),
    )
    event.save(force_insert=True)
    return event


@transaction.atomic
def event_update(*, event: SystemEvent, data: dict[str, Any]) -> SystemEvent:
    """Sets the given fields (any of UPDATABLE_FIELDS; others are refused) and saves those that
    change, in one UPDATE; nothing is read or written when `data` is empty, and nothing written
    when it changes nothing (no audit record, no stream update). The row is locked and read again
    first (raising SystemEvent.DoesNotExist when it was deleted meanwhile). Invalidates the
    event, its old and new type's lists and the stats."""
    if not data:
        return event
    lock_row(event, no_key=True)
    changed = assign(event, data, updatable=UPDATABLE_FIELDS)
    if changed:
        event.save(update_fields=sorted(changed))
    return event


@transaction.atomic
def event_delete(*, event: SystemEvent) -> None:
    """Deletes one event, locked and read again first so its audit record holds the values it
    had (raising SystemEvent.DoesNotExist when it was deleted meanwhile); invalidates it, its
    type's lists and the stats."""
    lock_row(event)
    event.delete()


@transaction.atomic
def event_bulk_create(*, events: list[dict[str, Any]]) -> list[SystemEvent]:
    """Creates all `events` (dicts of event_create's arguments) in one INSERT, or none. Returns
    them with their ids. Invalidates their types' lists and the stats after commit."""
    now = timezone.now()
    objects = [
        SystemEvent(**{**data, "timestamp": data.get("timestamp") or now, "created_at": now})
        for data in events
    ]
    SystemEvent.objects.bulk_create(objects)
    return objects


def _json_text(value):
    """A JSON column's COPY text: SQL NULL for None, as the ORM stores it. msgspec's encoder,
    several times faster than json.dumps on the bulk paths; jsonb stores the same value."""
    return None if value is None else msgspec.json.encode(value).decode()


# Every column of an event, in the model's order: what the COPY writes and event_ingest returns.
LOAD_COLUMNS = tuple(field.column for field in SystemEvent._meta.concrete_fields)


def _copy_in(events):
    """Stores `events` (dicts of every column but id), many times faster than INSERT: their ids
    drawn from the table's sequence in one query, the events and their CREATE audit records (one
    each) each written with COPY. Returns them with their ids, as stored."""
    table = SystemEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, len(events)],
        )
        rows = [{"id": row[0], **event} for event, row in zip(events, cursor.fetchall())]
        with cursor.copy(f"COPY {table} ({', '.join(LOAD_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(
                    [
                        _json_text(row[name]) if name == "details" else row[name]
                        for name in LOAD_COLUMNS
                    ]
                )
    audit_log_copy_created(model=SystemEvent, rows=rows)
    return rows


@transaction.atomic
def event_ingest(*, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stores validated new events (dicts of event_create's arguments, events.schemas), all or
    none, and returns them as stored (every column, ids included): the ids in one query, the
    events and their CREATE audit records each written with COPY, in one transaction (the
    caller's, when there is one). Each event has exactly one audit record. Invalidates their
    types' lists and the stats after commit."""
    if not events:
        return []
    now = timezone.now()
    rows = _copy_in(
        [
            {**event, "timestamp": event.get("timestamp") or now, "created_at": now}
            for event in events
        ]
    )
    invalidate_after_commit(event_types={row["event_type"] for row in rows})
    return rows


def event_submit(*, data: Any) -> SystemEvent:
    """Creates one event from a client's input (a parsed JSON value), checked by the input
    rules (events.schemas.event_validate): raises EventsRefused ({field: [message]}) and stores
    nothing when it breaks one; else as event_create."""
    values, errors = event_validate(data)
    if errors:
        raise EventsRefused(errors)
    return event_create(**values)


def event_submit_changes(*, event: SystemEvent, data: Any) -> SystemEvent:
    """Changes an event from a client's input (a parsed JSON value), checked by the input rules
    (events.schemas.event_changes_validate): raises EventsRefused ({field: [message]}) and
    writes nothing when it breaks one; else as event_update, with the fields sent."""
    changes, errors = event_changes_validate(data)
    if errors:
        raise EventsRefused(errors)
    return event_update(event=event, data=changes)


def events_submit(*, chunks, max_errors: int, on_chunk=None) -> int:
    """Creates events from a client's or a file's input chunk by chunk, all in one transaction:
    all or none. `chunks` yields lists of (key, parsed JSON value or schemas.Unparsable) pairs,
    each checked by the input rules (events.schemas.event_validate, with the event time window
    read once per chunk) and, while none is refused,
    stored as event_ingest stores them. Raises EventsRefused with the first `max_errors` refused
    items by key (validation stops there), and nothing is stored. `on_chunk(size, rows)` is
    called after each chunk with how many items it held and the events stored from it
    (event_ingest's rows). Returns how many events were stored; the caches are invalidated once,
    after commit."""
    stored, errors = 0, {}
    with transaction.atomic(), pooled_invalidation():
        for chunk in chunks:
            events = []
            window = event_time_window()
            for key, item in chunk:
                values, item_errors = event_validate(item, window=window)
                if item_errors:
                    errors[key] = item_errors
                elif not errors:
                    events.append(values)
            rows = [] if errors else event_ingest(events=events)
            stored += len(rows)
            if on_chunk is not None:
                on_chunk(len(chunk), rows)
            if len(errors) >= max_errors:
                break
        if errors:
            raise EventsRefused(dict(list(errors.items())[:max_errors]))
    return stored


@transaction.atomic
def event_load(*, events: list[dict[str, Any]]) -> int:
    """Loads a batch of generated events (dicts of every column but id) for synthetic data sets
    (seed_events) as event_ingest stores them, each with exactly one audit record. Invalidates
    every type's lists and the stats after commit. Returns the number of events."""
    if not events:
        return 0
    rows = _copy_in(events)
    invalidate_after_commit(all_types=True)
    return len(rows)


def event_purge_count(*, older_than: datetime) -> int:
    """How many events event_purge(older_than=...) would delete now (one index-only count)."""
    return SystemEvent.objects.filter(timestamp__lt=older_than).count()


def event_purge(*, older_than: datetime, batch_size: int = PURGE_BATCH_SIZE, progress=None) -> int:
    """Deletes events with a timestamp before `older_than` and returns how many: first the
    partitions wholly before it, each dropped with one audit record and its events taken out of
    the kept counts (events.partitions.event_partitions_drop), then the rest, `batch_size` rows
    per transaction (so locks and memory stay bounded on a large table), each audited.
    `progress(n)` is called after each partition and batch. Each batch invalidates its events,
    every type's lists and the stats after commit, in one Redis round trip. At the end the event
    counts are folded (events.counts), so the rows the purge appended do not wait for the next
    scheduled fold, and the live stream's change log is pruned (event_changes_prune). Each batch
    locks its rows first (skipping rows another transaction holds), so a row deleted meanwhile by
    another writer is neither counted nor audited twice."""
    deleted = event_partitions_drop(older_than=older_than, progress=progress)
    while True:
        with transaction.atomic(), pooled_invalidation():
            ids = list(
                SystemEvent.objects.filter(timestamp__lt=older_than)
                .select_for_update(skip_locked=True)
                .order_by()
                .values_list("id", flat=True)[:batch_size]
            )
            if not ids:
                counts.fold()
                event_changes_prune()
                return deleted
            count, _ = SystemEvent.objects.filter(id__in=ids).delete()
            invalidate_after_commit(event_ids=ids, all_types=True)
        deleted += count
        if progress is not None:
            progress(count)


def event_retention_apply(*, older_than: datetime) -> int:
    """The scheduled retention (EVENT_RETENTION_DAYS, brain.partitions.partitions_maintain):
    drops the partitions wholly before `older_than` (one audit record and one live-stream purge
    each), then deletes as event_purge does the events no partition holds that are older than
    every partition (the default partition's, written for a month that had none). The events of
    a partially expired month stay until the whole month is past `older_than`, so no event is
    deleted row by row day after day. Returns how many events went."""
    dropped = event_partitions_drop(older_than=older_than)
    with connection.cursor() as cursor:
        kept = partitions.partitions(cursor, TABLE)
    floor = min(older_than, kept[0].start) if kept else older_than
    return dropped + event_purge(older_than=floor)


def event_counts_fold() -> int:
    """Merges the rows the event-count triggers appended since the last fold into one row per
    group (events.counts.fold), so the statistics keep summing about one row per group. Runs off
    the request path (the `events.fold_counts` skill, `fold_event_counts`); never waits for a
    concurrent fold. Returns how many folded rows it wrote."""
    return counts.fold()


def event_changes_prune() -> int:
    """Deletes the live stream's changes older than EVENT_STREAM_RETENTION_HOURS (numbering the
    committed ones first, so that none is left without a position): a client can no longer
    resume from before them. Returns how many change rows it deleted."""
    log.stamp()
    older_than = timezone.now() - timedelta(hours=settings.EVENT_STREAM_RETENTION_HOURS)
    return log.prune(older_than=older_than)
