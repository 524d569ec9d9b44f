"""Writing audit records: one multi-row INSERT through the connection's cursor, in the caller's
transaction, split only where the connection caps a statement's parameters (server-side binding).

Hand-built rather than `AuditLog.objects.bulk_create()` (columns from AuditLog's fields, values
adapted by the connection's own operations): both take one round trip, but the ORM's per-object
work makes the one-record write every audited save makes about three times as costly.
"""

import functools
import json
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from brain.context import current_context

from .models import AuditLog

COLUMNS = (
    "user_id",
    "timestamp",
    "changed_fields",
    "operation",
    "table_name",
    "record_id",
    "ip_address",
    "user_agent",
    "request_id",
)


@dataclass(frozen=True)
class Entry:
    operation: str
    table_name: str
    record_id: str
    changed_fields: dict


# While a delete collects its cascade, entries wait here and are written by one INSERT.
_pending = ContextVar("audit_pending", default=None)


def write(entries, using):
    """Writes `entries` now, or with the enclosing `batch()` when there is one."""
    pending = _pending.get()
    if pending is not None:
        pending.setdefault(using, []).extend(entries)
    elif entries:
        _insert(entries, using)


@contextmanager
def batch():
    """Entries written inside are inserted together when the block ends without an error
    (the caller's transaction still encloses the INSERT). Nested batches join the outer one."""
    if _pending.get() is not None:
        yield
        return
    pending = {}
    token = _pending.set(pending)
    try:
        yield
    finally:
        _pending.reset(token)
    for using, entries in pending.items():
        _insert(entries, using)


def _rows(entries, connection):
    """The column values of `entries`, with the current request context or actor."""
    context = current_context()
    operations = connection.ops
    user_id = context.user_id()
    timestamp = operations.adapt_datetimefield_value(timezone.now())
    ip_address = operations.adapt_ipaddressfield_value(context.ip_address)
    user_agent, request_id = context.user_agent, context.request_id
    return [
        (
            user_id,
            timestamp,
            json.dumps(entry.changed_fields, cls=DjangoJSONEncoder),
            entry.operation,
            entry.table_name,
            entry.record_id,
            ip_address,
            user_agent,
            request_id,
        )
        for entry in entries
    ]


def _insert(entries, using):
    connection = connections[using]
    rows = _rows(entries, connection)
    max_params = connection.features.max_query_params
    per_statement = max_params // len(COLUMNS) if max_params else len(rows)
    placeholders = "({})".format(", ".join(["%s"] * len(COLUMNS)))
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        with connection.cursor() as cursor:
            cursor.execute(
                _insert_head() + ", ".join([placeholders] * len(chunk)),
                [value for row in chunk for value in row],
            )


def copy(entries, using):
    """Writes `entries` with PostgreSQL's COPY: for bulk loaders that COPY their own rows, so a
    data set of millions keeps one record per row at COPY speed. PostgreSQL only."""
    # COPY, not bulk_create(): bulk loaders write millions of records, and COPY stores them
    # several times faster than any INSERT.
    connection = connections[using]
    meta = AuditLog._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in COLUMNS)
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as copying:
            for row in _rows(entries, connection):
                copying.write_row(row)


@functools.cache
def _insert_head():
    """INSERT INTO audit_logs (...) VALUES, built once (every connection quotes as PostgreSQL)."""
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    meta = AuditLog._meta
    return "INSERT INTO {} ({}) VALUES ".format(
        quote(meta.db_table), ", ".join(quote(meta.get_field(name).column) for name in COLUMNS)
    )
