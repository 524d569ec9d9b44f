"""The sealed form of the audit log: the order records are sealed in, the bytes hashed for each
record, the hash chain over them, and the bytes a checkpoint signs (docs/audit.md, "Sealing").

- Position: (xid, id), the writing transaction's id, then the record's id. Ids are not commit
  order (a lower id can commit later); the sealer takes only records of transactions older than
  every transaction of the database still running (audit.sealing.OLDEST_RUNNING), and no record
  can ever appear before such a position again.
- A record's canonical form: the JSON object of its API fields (`id`, `user_id`, `timestamp`,
  `operation`, `table_name`, `record_id`, `changed_fields`, `ip_address`, `user_agent`,
  `request_id`), keys sorted at every level, no whitespace, UTF-8, non-ASCII characters as they
  are (canonical_json); `timestamp` in UTC with six fractional digits
  (`2026-01-02T03:04:05.000006Z`).
- digest = SHA-256(canonical form); head = SHA-256(previous head + digest), starting from 32
  zero bytes. A checkpoint's `head_hash` is the head after its last record.
- A checkpoint signs its canonical body (checkpoint_body); its hash, named by the next
  checkpoint's `previous_hash`, is the SHA-256 of that body.
"""

import hashlib
import struct
from collections import deque
from dataclasses import dataclass
from datetime import UTC
from itertools import islice
from typing import Any

import msgspec

GENESIS = bytes(32)
_ENCODER = msgspec.json.Encoder(order="sorted")
# One entry of a checkpoint's `records` locator: the record's id and the head of its digest.
LOCATOR_ENTRY = struct.Struct(">q8s")
# Records read from the database per query.
READ_BATCH = 10_000

SIGNED_FIELDS = (
    "sequence",
    "kind",
    "first_xid",
    "first_record_id",
    "last_xid",
    "last_record_id",
    "record_count",
    "head_hash",
    "previous_hash",
    "newest_record_at",
    "created_at",
    "key_id",
)

# A record's columns in the order record_digest() takes them, the timestamp as utc_text().
_COLUMNS = """id, user_id, to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
       changed_fields::text, operation, table_name, record_id,
       -- inet's own text form (10.0.0.1); a cast to text would add the mask (10.0.0.1/32).
       ip_address, user_agent, request_id"""
_RECORDS = f"""
SELECT xid::text AS transaction_id, {_COLUMNS}
FROM audit_logs
WHERE (xid, id) > (%s::xid8, %s) {{condition}}
ORDER BY audit_logs.xid, audit_logs.id
LIMIT %s
"""
# The records of a span of consecutive seal checkpoints, with their positions' transaction ids.
_SPAN = f"""
SELECT xid::text, {_COLUMNS}
FROM audit_logs
WHERE (xid, id) > (%s::xid8, %s) AND (xid, id) <= (%s::xid8, %s)
ORDER BY audit_logs.xid, audit_logs.id
"""
# Rows of a span received at a time. PostgreSQL reads and sends the next ones while these are
# hashed, as far as the socket's buffers hold them: a few chunks of 100 fit, so it seldom waits.
RANGE_CHUNK = 100


@dataclass(frozen=True, order=True)
class Position:
    xid: int
    id: int


START = Position(0, 0)


def position_first(checkpoint) -> Position:
    return Position(checkpoint.first_xid, checkpoint.first_record_id)


def position_last(checkpoint) -> Position:
    return Position(checkpoint.last_xid, checkpoint.last_record_id)


@dataclass(frozen=True)
class SealedRecord:
    position: Position
    digest: bytes
    timestamp: str  # utc_text()


def utc_text(moment):
    """A datetime as the canonical forms write it: UTC, six fractional digits, `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value) -> bytes:
    """`value` as compact JSON, keys sorted, UTF-8 (msgspec: the bytes of Python's
    json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False), floats written with an
    exponent aside: 1e16 and 1e-7, not 1e+16 and 1e-07)."""
    return _ENCODER.encode(value)


class _Canonical(msgspec.Struct):
    """A record's canonical form: encoded as an object whose keys, like those of every object
    inside it, are sorted (the fields are declared in that order too). A Struct, not a dict: the
    encoder then writes its keys without sorting them per record."""

    changed_fields: Any
    id: int
    ip_address: str | None
    operation: str
    record_id: str
    request_id: str
    table_name: str
    timestamp: str
    user_agent: str
    user_id: str | None


def record_digest(
    record_pk,
    user_id,
    timestamp,
    changed_fields,
    operation,
    table_name,
    record_id,
    ip_address,
    user_agent,
    request_id,
) -> bytes:
    """The SHA-256 of a record's canonical form, from its columns as _COLUMNS reads them (the
    timestamp already as utc_text() writes it, `changed_fields` as its JSON text).

    A `changed_fields` text no JSON reader takes (out of a float's range, as only a hand-edited
    row can be) is kept as a string, so that it fails to match what was sealed."""
    try:
        changed_fields = msgspec.json.decode(changed_fields)
    except msgspec.DecodeError:
        pass
    canonical = _Canonical(
        changed_fields=changed_fields,
        id=record_pk,
        ip_address=ip_address,
        operation=operation,
        record_id=record_id,
        request_id=request_id,
        table_name=table_name,
        timestamp=timestamp,
        user_agent=user_agent,
        user_id=user_id,
    )
    return hashlib.sha256(_ENCODER.encode(canonical)).digest()


def head_of(head: bytes, records) -> bytes:
    """The chain's head after `records`, starting from `head`."""
    for record in records:
        head = hashlib.sha256(head + record.digest).digest()
    return head


def read_in_position_order(cursor):
    """Has the rest of the current transaction read records in position order from the (xid, id)
    indexes: PostgreSQL merges the partitions' indexes and stops at a LIMIT, rather than sorting
    every record after a position first. It would sort when it expects few such records, as it
    does whenever one transaction wrote many (they share one xid, which its estimate of a row
    comparison cannot see past): sealing or checking a bulk import's records would then read the
    rest of the table per batch."""
    cursor.execute("SET LOCAL enable_sort = off")


def read_records(cursor, after: Position, *, through=None, xid_below=None, limit=READ_BATCH):
    """Up to `limit` records after `after`, in position order, up to `through` (a Position,
    inclusive) and below the transaction id `xid_below` when given, each as a SealedRecord."""
    condition, params = "", [str(after.xid), after.id]
    if through is not None:
        condition += " AND (xid, id) <= (%s::xid8, %s)"
        params += [str(through.xid), through.id]
    if xid_below is not None:
        condition += " AND xid < %s::xid8"
        params.append(str(xid_below))
    cursor.execute(_RECORDS.format(condition=condition), [*params, limit])
    return [
        SealedRecord(
            position=Position(int(row[0]), row[1]),
            digest=record_digest(*row[1:]),
            timestamp=row[3],
        )
        for row in cursor.fetchall()
    ]


@dataclass(frozen=True)
class Seal:
    """What a seal checkpoint states of its range: the records after `after` through `through`
    (inclusive) are `count` records whose chain ends at `head_hash` (hex)."""

    after: Position
    through: Position
    count: int
    head_hash: str


def first_unmatched(cursor, head: bytes, seals) -> int | None:
    """The index of the first of `seals` (consecutive: each one's `after` is the previous one's
    `through`) whose records do not match it, chaining from `head`; None when all match. One query
    reads the whole span, its rows hashed as they arrive, RANGE_CHUNK at a time, with only what a
    digest takes per record (no object per record): each seal takes its count of rows, which must
    end at its `through` with its head. Read in position order (read_in_position_order),
    PostgreSQL merges the partitions' (xid, id) indexes and reads the next rows while these are
    hashed. After a mismatch, the rest of the span is read and dropped: the transaction stays
    usable (a cancelled query would abort it)."""
    sha256 = hashlib.sha256
    first, last = seals[0], seals[-1]
    params = [str(first.after.xid), first.after.id, str(last.through.xid), last.through.id]
    rows = cursor.stream(_SPAN, params, size=RANGE_CHUNK)
    try:
        for index, seal in enumerate(seals):
            count, row = 0, None
            for row in islice(rows, seal.count):
                head = sha256(head + record_digest(*row[1:])).digest()
                count += 1
            if (
                count != seal.count
                or row is None
                or head.hex() != seal.head_hash
                or Position(int(row[0]), row[1]) != seal.through
            ):
                return index
        return None
    finally:
        deque(rows, maxlen=0)


class RecordStream:
    """The records after a position, in position order, read READ_BATCH at a time."""

    def __init__(self, cursor, after: Position):
        self.cursor = cursor
        self.after = after
        self.buffer = []
        self.exhausted = False

    def take_through(self, through: Position, most: int):
        """The next records up to `through` (inclusive), at most `most` of them. Those beyond
        `most` are skipped: past a checkpoint's count, a range already does not match."""
        taken, skipped = [], False
        while True:
            if not self.buffer:
                if self.exhausted:
                    break
                self.buffer = read_records(self.cursor, self.after)
                self.buffer.reverse()
                self.exhausted = len(self.buffer) < READ_BATCH
                if not self.buffer:
                    break
            record = self.buffer[-1]
            if record.position > through:
                break
            self.buffer.pop()
            self.after = record.position
            if len(taken) < most:
                taken.append(record)
            else:
                skipped = True
        return taken, skipped


def locator(records) -> bytes:
    """The `records` locator of a checkpoint over `records`."""
    return b"".join(LOCATOR_ENTRY.pack(r.position.id, r.digest[:8]) for r in records)


def locator_entries(data: bytes):
    """The (record id, digest head) pairs of a locator."""
    return list(LOCATOR_ENTRY.iter_unpack(bytes(data)))


def checkpoint_body(checkpoint) -> bytes:
    """The bytes a checkpoint signs: the canonical JSON of its SIGNED_FIELDS, times as
    utc_text()."""
    values = {}
    for name in SIGNED_FIELDS:
        value = getattr(checkpoint, name)
        values[name] = utc_text(value) if name.endswith("_at") else value
    return canonical_json(values)


def checkpoint_hash(checkpoint) -> str:
    """The SHA-256 (hex) of a checkpoint's body; GENESIS for no checkpoint."""
    if checkpoint is None:
        return GENESIS.hex()
    return hashlib.sha256(checkpoint_body(checkpoint)).hexdigest()
