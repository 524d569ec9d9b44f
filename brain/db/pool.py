"""The check psycopg_pool runs on a connection it hands out, with no round trip to PostgreSQL
unless the server has spoken since the connection was returned."""

import contextlib
import select
import threading
import time

import psycopg
from psycopg import pq
from psycopg_pool import ConnectionPool


def check_connection(connection):
    """Raises, so that the pool hands out another connection, when `connection` is broken.

    psycopg_pool's own `ConnectionPool.check_connection` sends an empty query and waits for its
    answer: a round trip on every checkout, that is on every request. An idle connection hears
    nothing from the server unless the server is hanging up (a restart, `pg_terminate_backend`,
    an idle timeout), so this check only looks at the socket, and asks the server the same way
    psycopg_pool does when there is something to read. What it cannot see is a connection lost
    without a word (a network cut): the request using it fails once, and the pool discards it.
    """
    if connection.broken or connection.pgconn.status != pq.ConnStatus.OK:
        sweep_pools_soon()
        raise psycopg.OperationalError("the connection is broken")
    # poll(), not select(): select() refuses a descriptor numbered 1024 or more, which a process
    # with many files or sockets open hands out.
    listening = select.poll()
    listening.register(connection.pgconn.socket, select.POLLIN)
    if listening.poll(0):
        try:
            ConnectionPool.check_connection(connection)
        except Exception:
            sweep_pools_soon()
            raise


_SWEEP_INTERVAL_SECONDS = 1.0
_last_sweep = 0.0
_sweep_lock = threading.Lock()


def sweep_pools_soon():
    """Checks every idle connection of the process's pools (psycopg_pool's `check()`), in a thread
    of its own, at most once a second.

    A connection found dead at checkout usually has company: after PostgreSQL restarts, every idle
    connection of the pool is dead, and psycopg_pool backs off for a second or more between one
    failed check and the next, longer than a request waits. The sweep drops them all at once and the
    pool opens new ones, so the request that found the first one is served.
    """
    global _last_sweep
    with _sweep_lock:
        now = time.monotonic()
        if now - _last_sweep < _SWEEP_INTERVAL_SECONDS:
            return
        _last_sweep = now
    threading.Thread(target=_sweep_pools, name="pool-sweep", daemon=True).start()


def _sweep_pools():
    from django.db import connections

    for alias in connections:
        pool = getattr(connections[alias], "pool", None)
        if pool is not None:
            with contextlib.suppress(Exception):
                pool.check()
