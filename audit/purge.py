"""Retention: the one way audit records are deleted. A purge seals first, then removes whole seal
checkpoints' records, oldest first, and adds a purge checkpoint per batch saying what it removed,
so that verification goes on from there. A partition of audit_logs wholly older than the cutoff
goes in one batch, dropped (audit.partitions)."""

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from brain import partitions

from . import chain, recording
from .chain import position_last
from .models import AuditCheckpoint, AuditLog, CheckpointKind, Operation, last_after
from .sealing import audit_seal, last_checkpoints, lock_checkpoints, new_checkpoint
from .signing import signing_key
from .verification import range_failure


class PurgeRefused(Exception):
    """The records of a range to purge do not match their checkpoint: deleting them would destroy
    the evidence. The message names the first record or checkpoint that differs."""


def allow_purge(connection):
    """Lets the current transaction delete from audit_logs (the append-only trigger reads this
    transaction-local flag). Must run inside `transaction.atomic()`."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL brain.audit_purge = 'on'")


def audit_purge_count(*, older_than, using=DEFAULT_DB_ALIAS):
    """How many sealed records audit_purge(older_than=...) would delete now."""
    cutoff = timezone.now() - older_than
    return sum(checkpoint.record_count for checkpoint in _purgeable(cutoff, None, using))


def audit_purge(*, older_than, batch_size=10_000, using=DEFAULT_DB_ALIAS, progress=None):
    """Seals the records committed so far, then deletes the sealed records older than
    `older_than` (a timedelta), whole seal checkpoints at a time, oldest first: it stops at the
    first checkpoint holding a record that is not older (a record is purged with its checkpoint,
    at the purge after it is old enough). Each batch (whole checkpoints, `batch_size` records or
    just one checkpoint if it holds more) is one short transaction that checks the records
    against their checkpoints, deletes them and adds a purge checkpoint stating the range
    removed. Returns how many were deleted; `progress(n)` is called after each batch. Raises
    PurgeRefused, deleting nothing more, at a range that does not match its checkpoint."""
    cutoff = timezone.now() - older_than
    deleted = _partitions_drop(cutoff, using, progress)
    private_key = signing_key()
    while True:
        with transaction.atomic(using=using):
            purge = _purge_batch(private_key, cutoff, batch_size, using)
        if purge is None:
            return deleted
        deleted += purge.record_count
        if progress is not None:
            progress(purge.record_count)


def audit_partitions_drop(*, older_than, using=DEFAULT_DB_ALIAS, progress=None):
    """Seals the records committed so far, then purges the partitions of audit_logs wholly older
    than `older_than` (a timedelta), oldest first, as audit_purge does before its batches, and
    returns how many records went; the records of a partially expired month stay. Stops at the
    first partition that cannot go yet (a record not sealed, or sealed with one not older)."""
    return _partitions_drop(timezone.now() - older_than, using, progress)


def _partitions_drop(cutoff, using, progress):
    audit_seal(using=using)
    private_key = signing_key()
    deleted = 0
    with connections[using].cursor() as cursor:
        expired = partitions.partitions_expired(cursor, AuditLog._meta.db_table, cutoff)
    for partition in expired:
        with transaction.atomic(using=using):
            removed = _purge_partition(private_key, cutoff, partition, using)
        if removed is None:
            break
        deleted += removed
        if progress is not None:
            progress(removed)
    return deleted


def _purgeable(cutoff, batch_size, using):
    """The seal checkpoints after the latest purge's range, oldest first, up to the first holding
    a record not older than `cutoff`; with `batch_size`, only as many as hold that many records
    (one at least)."""
    checkpoints = AuditCheckpoint.objects.using(using).defer("records")
    latest_purge = checkpoints.filter(kind=CheckpointKind.PURGE).order_by("-sequence").first()
    seals = checkpoints.filter(kind=CheckpointKind.SEAL).order_by("sequence")
    if latest_purge is not None:
        seals = seals.filter(last_after(position_last(latest_purge)))
    taken, count = [], 0
    for seal in seals.iterator(chunk_size=1_000):
        if seal.newest_record_at >= cutoff:
            break
        if batch_size is not None and taken and count + seal.record_count > batch_size:
            break
        taken.append(seal)
        count += seal.record_count
    return taken


def _purge_batch(private_key, cutoff, batch_size, using):
    """Purges the next batch of checkpoints in the current transaction; returns the purge
    checkpoint written, or None when nothing is old enough."""
    connection = connections[using]
    with connection.cursor() as cursor:
        lock_checkpoints(cursor)
        seals = _purgeable(cutoff, batch_size, using)
        if not seals:
            return None
        after, through = _check(cursor, seals, using)
        allow_purge(connection)
        cursor.execute(
            "DELETE FROM audit_logs WHERE (xid, id) > (%s::xid8, %s) "
            "AND (xid, id) <= (%s::xid8, %s)",
            [str(after.xid), after.id, str(through.xid), through.id],
        )
    return _purge_checkpoint(private_key, seals, using)


def _purge_partition(private_key, cutoff, partition, using):
    """Purges the records of `partition` (wholly older than `cutoff`) in the current transaction,
    with the seal checkpoints through its newest record: checks them, deletes the other
    partitions' records of their range, drops the partition, writes one audit record for it and
    the purge checkpoint. Returns how many records went, or None (nothing done) when a record of
    the partition is not sealed yet, or the checkpoints through it hold a record not older than
    `cutoff`."""
    connection = connections[using]
    quote = connection.ops.quote_name
    table = AuditLog._meta.db_table
    with connection.cursor() as cursor:
        lock_checkpoints(cursor)
        # Writes to the partition wait from here, so that no record joins it unsealed.
        cursor.execute(f"LOCK TABLE {quote(partition.name)} IN SHARE MODE")
        cursor.execute(
            f"SELECT xid::text, id FROM {quote(partition.name)} ORDER BY xid DESC, id DESC LIMIT 1"
        )
        newest = cursor.fetchone()
        seals = []
        if newest is not None:
            newest = chain.Position(int(newest[0]), newest[1])
            seals = _purgeable(cutoff, None, using)
            before = [seal for seal in seals if position_last(seal) < newest]
            if len(before) == len(seals):
                return None
            seals = seals[: len(before) + 1]
        count = partitions.partition_rows(cursor, partition.name)
        allow_purge(connection)
        if seals:
            after, through = _check(cursor, seals, using)
            cursor.execute(
                f"DELETE FROM {quote(table)} WHERE (xid, id) > (%s::xid8, %s) "
                "AND (xid, id) <= (%s::xid8, %s) AND NOT (timestamp >= %s AND timestamp < %s)",
                [
                    str(after.xid),
                    after.id,
                    str(through.xid),
                    through.id,
                    partition.start,
                    partition.end,
                ],
            )
        recording.write(
            [
                recording.Entry(
                    Operation.DELETE,
                    table,
                    partition.name,
                    {
                        "partition": partition.name,
                        "from": partition.start.isoformat(),
                        "to": partition.end.isoformat(),
                        "rows": count,
                    },
                )
            ],
            using,
        )
        # The table before the partition, the order every reader takes them in.
        cursor.execute(f"LOCK TABLE {quote(table)} IN ACCESS EXCLUSIVE MODE")
        cursor.execute(f"DROP TABLE {quote(partition.name)}")
    if not seals:
        return 0
    return _purge_checkpoint(private_key, seals, using).record_count


def _check(cursor, seals, using):
    """Checks the records of `seals` (the seal checkpoints after the latest purge's range)
    against them; returns the positions the range starts after and ends at. Raises PurgeRefused
    at the first that does not match."""
    latest_purge = (
        AuditCheckpoint.objects.using(using)
        .filter(kind=CheckpointKind.PURGE)
        .order_by("-sequence")
        .first()
    )
    after = position_last(latest_purge) if latest_purge else chain.START
    head = bytes.fromhex(latest_purge.head_hash) if latest_purge else chain.GENESIS
    chain.read_in_position_order(cursor)
    stream = chain.RecordStream(cursor, after)
    for seal in seals:
        records, skipped = stream.take_through(position_last(seal), seal.record_count + 1)
        failure = range_failure(seal, head, records, skipped)
        if failure:
            raise PurgeRefused(f"{failure}: nothing more purged; run verify_audit")
        head = bytes.fromhex(seal.head_hash)
    return after, position_last(seals[-1])


def _purge_checkpoint(private_key, seals, using):
    """The purge checkpoint saying the records of `seals` were removed."""
    last, _ = last_checkpoints(using)
    through = position_last(seals[-1])
    return new_checkpoint(
        private_key,
        last,
        using=using,
        kind=CheckpointKind.PURGE,
        first_xid=seals[0].first_xid,
        first_record_id=seals[0].first_record_id,
        last_xid=through.xid,
        last_record_id=through.id,
        record_count=sum(seal.record_count for seal in seals),
        head_hash=seals[-1].head_hash,
        newest_record_at=max(seal.newest_record_at for seal in seals),
    )
