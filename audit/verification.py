"""Verification: recomputes the hash chain from the records and checks every checkpoint (its
signature, its place in the sequence, the range it covers), naming the first record or checkpoint
that does not match."""

from collections import deque
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from . import chain, verify_process
from .chain import position_first, position_last
from .models import AuditCheckpoint, AuditVerification, CheckpointKind, last_after
from .signing import key_id, signature_valid, signing_key

# Checkpoints read at a time, and seal ranges checked at a time, up to a number of records (a
# span's query then reads a few hundred thousand rows at most, a second or two).
CHECKPOINT_BATCH = 1_000
BATCH_RECORDS = 400_000


@dataclass(frozen=True)
class Verification:
    """What a verification found. `through` is the last checkpoint verified (the last of all
    when `ok`, the last before the failure otherwise)."""

    ok: bool
    failure: str
    through: AuditCheckpoint | None
    checkpoints: int
    records: int
    unsealed: int


class Mismatch(Exception):
    """A record or checkpoint that does not match; the message names it."""


class _RangeMismatch(Mismatch):
    """A seal checkpoint's records that do not match it."""


class NothingSince(Exception):
    """`since` names no checkpoint yet: there is nothing to verify from there. The message says
    which checkpoint is the last."""


def range_failure(checkpoint, head: bytes, records, skipped: bool):
    """Why the seal `checkpoint` does not match `records` (its range, in order, chained from
    `head`), naming the first record that differs where its locator tells; None when it matches.
    """
    if (
        not skipped
        and len(records) == checkpoint.record_count
        and chain.head_of(head, records).hex() == checkpoint.head_hash
    ):
        return None
    where = f"(checkpoint {checkpoint.sequence})"
    sealed = chain.locator_entries(checkpoint.records)
    found = [(record.position.id, record.digest[:8]) for record in records]
    sealed_ids = {entry[0] for entry in sealed}
    found_ids = {entry[0] for entry in found}
    for index in range(max(len(sealed), len(found))):
        expected = sealed[index] if index < len(sealed) else None
        actual = found[index] if index < len(found) else None
        if expected == actual:
            continue
        if actual is None or (expected is not None and expected[0] not in found_ids):
            return f"record {expected[0]} {where}: deleted after it was sealed"
        if expected is None or actual[0] not in sealed_ids:
            return f"record {actual[0]} {where}: inserted into a sealed range"
        if expected[0] == actual[0]:
            return f"record {actual[0]} {where}: changed after it was sealed"
        return f"record {actual[0]} {where}: out of its sealed order"
    return f"checkpoint {checkpoint.sequence}: its records do not match its head hash"


def audit_verify(*, since=None, public_key=None, using=DEFAULT_DB_ALIAS, jobs=1) -> Verification:
    """Verifies the audit log with `public_key` (the configured key's by default): every
    checkpoint from the first (or from `since`: a checkpoint sequence, or the first checkpoint
    created at or after a datetime) and every record they cover. Reads one consistent snapshot
    (a REPEATABLE READ, READ ONLY transaction), so sealing and purging may go on meanwhile.

    With `jobs` above 1, that many processes recompute the chain over the checkpoints' records,
    each on a connection of its own reading the same snapshot, while this one checks the
    checkpoints themselves; the outcome is the same as with one. Raises ProcessFailed if one of
    them cannot connect or stops, and NothingSince if `since` names no checkpoint yet: the log
    is then not verified."""
    if public_key is None:
        public_key = signing_key().public_key()
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        # A span's rows also stream out while the previous ones are hashed.
        chain.read_in_position_order(cursor)
        with _processes(cursor, using, jobs) as pool:
            walk = _Walk(cursor, public_key, using, pool, jobs)
            try:
                walk.run(since)
            except Mismatch as mismatch:
                return walk.result(str(mismatch))
            return walk.result("")


@contextmanager
def _processes(cursor, using, jobs):
    """A pool of `jobs` processes reading this transaction's snapshot; None for one job."""
    if jobs == 1:
        yield None
        return
    cursor.execute("SELECT pg_export_snapshot()")
    pool = verify_process.pool(connections[using].connection, cursor.fetchone()[0], jobs)
    try:
        yield pool
    finally:
        pool.shutdown(cancel_futures=True)


def audit_verification_record(result: Verification) -> AuditVerification:
    """Keeps `result` as the latest verification (one row, replaced)."""
    through = result.through
    verification, _ = AuditVerification.objects.update_or_create(
        pk=1,
        defaults={
            "checked_at": timezone.now(),
            "ok": result.ok,
            "failure": result.failure,
            "through_sequence": through.sequence if through else None,
            "through_created_at": through.created_at if through else None,
            "checkpoint_count": result.checkpoints,
            "record_count": result.records,
            "unsealed_count": result.unsealed,
        },
    )
    return verification


def audit_verification_latest() -> AuditVerification | None:
    """The latest verification kept, or None."""
    return AuditVerification.objects.filter(pk=1).first()


@dataclass(frozen=True)
class _Range:
    """A seal checkpoint's range waiting to be checked: the chain's head before it, and how far
    the walk had verified before it."""

    checkpoint: AuditCheckpoint
    seal: chain.Seal
    head: bytes
    through: AuditCheckpoint | None
    checked: int


class _Walk:
    """One pass over the checkpoints in sequence order; the records of their ranges are checked a
    batch at a time (CHECKPOINT_BATCH ranges, or BATCH_RECORDS records), in this process or by
    the pool's, and a mismatch in a range is reported before any later checkpoint's."""

    def __init__(self, cursor, public_key, using, pool, jobs):
        self.cursor = cursor
        self.public_key = public_key
        self.key_id = key_id(public_key)
        self.checkpoints = AuditCheckpoint.objects.using(using).defer("records")
        self.pool = pool
        self.jobs = jobs
        self.pending = []
        self.pending_records = 0
        self.in_flight = deque()
        self.through = None
        self.checked = 0
        self.records = 0
        self.unsealed = 0

    def result(self, failure):
        return Verification(
            ok=not failure,
            failure=failure,
            through=self.through,
            checkpoints=self.checked,
            records=self.records,
            unsealed=self.unsealed,
        )

    def run(self, since):
        try:
            after = self._walk(since)
        except _RangeMismatch:
            raise  # found while walking: before every checkpoint not yet walked
        except Mismatch:
            self._finish()  # a range before the failing checkpoint fails first
            raise
        self._finish()
        self.cursor.execute(
            "SELECT count(*) FROM audit_logs WHERE (xid, id) > (%s::xid8, %s)",
            [str(after.xid), after.id],
        )
        self.unsealed = self.cursor.fetchone()[0]

    def _walk(self, since):
        """Checks the checkpoints from `since` on, queueing their ranges; returns the position
        after which no record is sealed."""
        start = self._start(since)
        previous = None
        previous_seal = None
        if start > 1:
            previous = self._trusted(self.checkpoints.filter(sequence=start - 1).first(), start - 1)
            previous_seal = self._trusted(
                self.checkpoints.filter(kind=CheckpointKind.SEAL, sequence__lt=start)
                .order_by("-sequence")
                .first(),
                None,
            )
        latest_purge = (
            self.checkpoints.filter(kind=CheckpointKind.PURGE).order_by("-sequence").first()
        )
        purged_through = position_last(latest_purge) if latest_purge else chain.START
        after = position_last(previous_seal) if previous_seal else chain.START
        after = max(after, purged_through)
        head = bytes.fromhex(previous_seal.head_hash) if previous_seal else chain.GENESIS
        for checkpoint in self._from(start):
            self._check_signature(checkpoint)
            expected = previous.sequence + 1 if previous else 1
            if checkpoint.sequence != expected:
                raise Mismatch(
                    f"checkpoint {expected}: missing (the next is checkpoint {checkpoint.sequence})"
                )
            if checkpoint.previous_hash != chain.checkpoint_hash(previous):
                raise Mismatch(
                    f"checkpoint {checkpoint.sequence}: its previous_hash is not the hash of "
                    f"checkpoint {expected - 1}"
                )
            if checkpoint.kind == CheckpointKind.PURGE:
                self._check_purge(checkpoint)
            else:
                if previous_seal and position_first(checkpoint) <= position_last(previous_seal):
                    raise Mismatch(
                        f"checkpoint {checkpoint.sequence}: its range overlaps checkpoint "
                        f"{previous_seal.sequence}'s"
                    )
                if position_last(checkpoint) > purged_through:
                    self._queue(checkpoint, after, head)
                    after = position_last(checkpoint)
                head = bytes.fromhex(checkpoint.head_hash)
                previous_seal = checkpoint
            previous = checkpoint
            self.through = checkpoint
            self.checked += 1
        return after

    def _queue(self, checkpoint, after, head):
        """Queues the seal `checkpoint`'s range: the records after `after` through its last
        position, chained from `head`, must be its count and its head."""
        seal = chain.Seal(
            after=after,
            through=position_last(checkpoint),
            count=checkpoint.record_count,
            head_hash=checkpoint.head_hash,
        )
        self.pending.append(_Range(checkpoint, seal, head, self.through, self.checked))
        self.pending_records += seal.count
        if len(self.pending) == CHECKPOINT_BATCH or self.pending_records >= BATCH_RECORDS:
            # The pool checks this batch while the next one's checkpoints are walked.
            self._dispatch()
            self._collect(keep=1)

    def _dispatch(self):
        """Starts checking the queued ranges, in spans of consecutive ranges with about as many
        records each, one per job: in this process at once, or by the pool's meanwhile."""
        ranges, self.pending, self.pending_records = self.pending, [], 0
        if not ranges:
            return
        spans = _spans(ranges, self.jobs)
        if self.pool is None:
            self._settle(spans, (self._first_unmatched(span) for span in spans))
            return
        futures = [
            self.pool.submit(verify_process.first_unmatched, span[0].head, [r.seal for r in span])
            for span in spans
        ]
        self.in_flight.append((spans, futures))

    def _finish(self):
        """Checks every range still queued or being checked."""
        self._dispatch()
        self._collect(keep=0)

    def _collect(self, keep):
        """Waits for the pool's checks, oldest first, until `keep` batches are left running."""
        while len(self.in_flight) > keep:
            spans, futures = self.in_flight.popleft()
            self._settle(spans, _results(futures))

    def _settle(self, spans, found):
        """Counts the records of the spans that matched, in order, up to the first range that
        does not (`found`: each span's first unmatched range, or None), and fails there."""
        for span, index in zip(spans, found, strict=True):
            matched = span if index is None else span[:index]
            self.records += sum(r.seal.count for r in matched)
            if index is not None:
                self._fail(span[index])

    def _first_unmatched(self, span):
        # As Django's cursor does for execute(): errors raised as django.db's.
        with self.cursor.db.wrap_database_errors:
            return chain.first_unmatched(self.cursor, span[0].head, [r.seal for r in span])

    def _fail(self, unmatched: _Range):
        """Raises Mismatch for a range that does not match, its records read again one by one to
        name the first that differs; the walk is verified through the checkpoint before it."""
        self.through, self.checked = unmatched.through, unmatched.checked
        seal = unmatched.seal
        records, skipped = chain.RecordStream(self.cursor, seal.after).take_through(
            seal.through, seal.count + 1
        )
        checkpoint = unmatched.checkpoint
        raise _RangeMismatch(
            range_failure(checkpoint, unmatched.head, records, skipped)
            or f"checkpoint {checkpoint.sequence}: its records do not match its range"
        )

    def _start(self, since):
        """The sequence of the first checkpoint to verify: 1, `since`, or the first created at or
        after the time `since`. NothingSince when there is no such checkpoint yet."""
        if since is None:
            return 1
        if isinstance(since, datetime):
            named = self.checkpoints.filter(created_at__gte=since)
        else:
            named = self.checkpoints.filter(sequence__gte=since)
        first = named.order_by("sequence").first()
        if first is None:
            last = self.checkpoints.order_by("-sequence").first()
            raise NothingSince(
                f"the last is checkpoint {last.sequence}, created {last.created_at.isoformat()}"
                if last
                else "there is none yet"
            )
        return first.sequence if isinstance(since, datetime) else since

    def _from(self, start):
        """The checkpoints from `start` on, in sequence order, CHECKPOINT_BATCH at a time."""
        after = start - 1
        while True:
            batch = list(
                self.checkpoints.filter(sequence__gt=after).order_by("sequence")[:CHECKPOINT_BATCH]
            )
            yield from batch
            if len(batch) < CHECKPOINT_BATCH:
                return
            after = batch[-1].sequence

    def _trusted(self, checkpoint, sequence):
        """A checkpoint before the verified ones, which they build on: it must exist (when
        `sequence` names it) and be signed."""
        if checkpoint is None:
            if sequence is not None:
                raise Mismatch(f"checkpoint {sequence}: missing")
            return None
        self._check_signature(checkpoint)
        return checkpoint

    def _check_signature(self, checkpoint):
        body = chain.checkpoint_body(checkpoint)
        if signature_valid(self.public_key, body, checkpoint.signature):
            return
        if checkpoint.key_id != self.key_id:
            raise Mismatch(
                f"checkpoint {checkpoint.sequence}: signed with another key ({checkpoint.key_id}, "
                f"not {self.key_id})"
            )
        raise Mismatch(
            f"checkpoint {checkpoint.sequence}: its signature does not match its content "
            f"(key {self.key_id})"
        )

    def _check_purge(self, purge):
        """A purge checkpoint removes whole seal checkpoints, from the first after the previous
        purge through one ending at its last position, and states their count and head; no
        record of that range is left."""
        earlier = self.checkpoints.filter(sequence__lt=purge.sequence)
        previous_purge = earlier.filter(kind=CheckpointKind.PURGE).order_by("-sequence").first()
        after = position_last(previous_purge) if previous_purge else chain.START
        removed = list(
            earlier.filter(kind=CheckpointKind.SEAL)
            .filter(last_after(after))
            .exclude(last_after(position_last(purge)))
            .order_by("sequence")
        )
        if (
            not removed
            or position_first(removed[0]) != position_first(purge)
            or position_last(removed[-1]) != position_last(purge)
            or sum(seal.record_count for seal in removed) != purge.record_count
            or removed[-1].head_hash != purge.head_hash
        ):
            raise Mismatch(
                f"checkpoint {purge.sequence}: the range it says was purged is not that of the "
                "seal checkpoints before it"
            )
        left = chain.read_records(self.cursor, after, through=position_last(purge), limit=1)
        if left:
            raise Mismatch(
                f"record {left[0].position.id}: in the range purged by checkpoint {purge.sequence}"
            )


def _results(futures):
    """The futures' results in order; ProcessFailed if a process stopped before giving one."""
    for future in futures:
        try:
            yield future.result()
        except BrokenProcessPool:
            raise verify_process.ProcessFailed("a verifying process stopped unexpectedly") from None


def _spans(ranges, parts):
    """`ranges` cut into at most `parts` runs of consecutive ranges with about as many records
    each."""
    total = sum(r.seal.count for r in ranges)
    spans, span, taken = [], [], 0
    for r in ranges:
        span.append(r)
        taken += r.seal.count
        if taken * parts >= total * (len(spans) + 1):
            spans.append(span)
            span = []
    if span:
        spans.append(span)
    return spans
