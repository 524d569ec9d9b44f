"""Sealing: the committed audit records not yet sealed are chained by hash into signed
checkpoints, off the write path (an audited save pays nothing for it)."""

from datetime import datetime

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from . import chain
from .models import AuditCheckpoint, CheckpointKind
from .signing import key_id, sign, signing_key

# Records per seal checkpoint, at most: a purge removes whole checkpoints, so this is also the
# smallest step a purge takes.
CHECKPOINT_MAX_RECORDS = 10_000
# pg_advisory_xact_lock key held by whoever writes a checkpoint (sealer or purge): one at a time,
# so the chain never forks.
CHECKPOINT_LOCK = 0x6175646974_0001

# The oldest transaction that may still write audit records here: the oldest still running, from
# one snapshot, leaving out those pg_stat_activity shows connected to another database (they
# cannot write this database's records), else the snapshot's next transaction id. A transaction
# not found there (ended since, prepared, or hidden from this role) counts: a record is only
# ever sealed later for it, never skipped.
OLDEST_RUNNING = """
SELECT least(
    pg_snapshot_xmax(snapshot),
    (SELECT running FROM pg_snapshot_xip(snapshot) AS running
     WHERE NOT EXISTS (
         SELECT FROM pg_stat_activity
         WHERE backend_xid = running::xid AND datname <> current_database())
     ORDER BY running LIMIT 1)
)::text
FROM pg_current_snapshot() AS snapshot
"""


def lock_checkpoints(cursor, *, wait=True):
    """Takes the checkpoint writers' lock until the transaction ends, waiting for it, or with
    `wait` False only if it is free. Returns whether it was taken."""
    if wait:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHECKPOINT_LOCK])
        return True
    cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [CHECKPOINT_LOCK])
    return cursor.fetchone()[0]


def last_checkpoints(using):
    """The latest checkpoint, and the latest seal checkpoint (either may be None)."""
    checkpoints = AuditCheckpoint.objects.using(using).defer("records").order_by("-sequence")
    last = checkpoints.first()
    if last is None or last.kind == CheckpointKind.SEAL:
        return last, last
    return last, checkpoints.filter(kind=CheckpointKind.SEAL).first()


def new_checkpoint(private_key, previous, *, using, **fields):
    """Saves a checkpoint of `fields` following `previous` (None for the first), signed."""
    checkpoint = AuditCheckpoint(
        sequence=previous.sequence + 1 if previous else 1,
        previous_hash=chain.checkpoint_hash(previous),
        created_at=timezone.now(),
        key_id=key_id(private_key.public_key()),
        **fields,
    )
    checkpoint.signature = sign(private_key, chain.checkpoint_body(checkpoint))
    checkpoint.save(force_insert=True, using=using)
    return checkpoint


def audit_seal(*, using=DEFAULT_DB_ALIAS, max_records=CHECKPOINT_MAX_RECORDS, wait=True):
    """Seals every audit record committed since the last seal checkpoint: a checkpoint per
    `max_records` records at most, each in its own short transaction, under the checkpoint
    writers' lock (concurrent sealers take turns; none forks the chain, none seals a record
    twice). With `wait` False it seals nothing while another sealer or purge holds the lock. Returns
    the checkpoints written, oldest first (none when nothing was left to seal). With nothing new
    it costs one short transaction of a few small queries.

    A record is sealed once every transaction of this database older than its own has ended,
    so a long open transaction delays sealing until it ends."""
    private_key = signing_key()
    written = []
    while True:
        with transaction.atomic(using=using):
            checkpoint = _seal_next(private_key, using, max_records, wait)
        if checkpoint is None:
            return written
        written.append(checkpoint)
        if checkpoint.record_count < max_records:
            return written


def _seal_next(private_key, using, max_records, wait):
    with connections[using].cursor() as cursor:
        if not lock_checkpoints(cursor, wait=wait):
            return None
        last, last_seal = last_checkpoints(using)
        cursor.execute(OLDEST_RUNNING)
        oldest_running = int(cursor.fetchone()[0])
        after = chain.START
        head = chain.GENESIS
        if last_seal is not None:
            after = chain.Position(last_seal.last_xid, last_seal.last_record_id)
            head = bytes.fromhex(last_seal.head_hash)
        chain.read_in_position_order(cursor)
        records = chain.read_records(cursor, after, xid_below=oldest_running, limit=max_records)
    if not records:
        return None
    return new_checkpoint(
        private_key,
        last,
        using=using,
        kind=CheckpointKind.SEAL,
        first_xid=records[0].position.xid,
        first_record_id=records[0].position.id,
        last_xid=records[-1].position.xid,
        last_record_id=records[-1].position.id,
        record_count=len(records),
        head_hash=chain.head_of(head, records).hex(),
        newest_record_at=datetime.fromisoformat(max(record.timestamp for record in records)),
        records=chain.locator(records),
    )
