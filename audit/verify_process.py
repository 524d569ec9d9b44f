"""The processes a verification with several jobs starts (audit_verify(jobs=N)): each opens one
connection of its own that reads the verifying transaction's exported snapshot, so every process
sees the same records, and checks the spans of seal checkpoints it is given. Imports no model:
the processes are started fresh (spawned) and never set Django up. A process that cannot connect
fails its first check with ProcessFailed."""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.types.string import TextLoader

from . import chain

# What this process connects to, (conninfo, snapshot), and its cursor once connected.
_target = None
_cursor = None


class ProcessFailed(Exception):
    """A verifying process could not do its part: it could not connect, or it stopped."""


def pool(connection, snapshot: str, jobs: int) -> ProcessPoolExecutor:
    """`jobs` processes reading the snapshot `snapshot` (pg_export_snapshot()) of the database
    that `connection` (a psycopg connection) is connected to, as its user."""
    info = connection.info
    conninfo = make_conninfo(info.dsn, password=info.password or None)
    return ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_aim,
        initargs=(conninfo, snapshot),
    )


def first_unmatched(head: bytes, seals) -> int | None:
    """chain.first_unmatched() on this process's connection, opened by the first call."""
    global _cursor
    if _cursor is None:
        try:
            _cursor = _open(*_target)
        except psycopg.OperationalError as error:
            reason = str(error).splitlines()[0]
            raise ProcessFailed(
                f"a verifying process could not connect to PostgreSQL ({reason})"
            ) from None
    return chain.first_unmatched(_cursor, head, seals)


def _aim(conninfo, snapshot):
    global _target
    _target = (conninfo, snapshot)


def _open(conninfo, snapshot):
    """A cursor in a REPEATABLE READ, READ ONLY transaction on `snapshot`, reading the values as
    Django's connections do (inet as its text) and in position order from the indexes, as the
    verifying transaction does."""
    connection = psycopg.connect(conninfo, cursor_factory=psycopg.ClientCursor)
    connection.adapters.register_loader("inet", TextLoader)
    connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    connection.read_only = True
    connection.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
    cursor = connection.cursor()
    chain.read_in_position_order(cursor)
    return cursor
