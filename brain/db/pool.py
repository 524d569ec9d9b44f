"""The check psycopg_pool runs on a connection it hands out, with no round trip to PostgreSQL
unless the server has spoken since the connection was returned."""

import select

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
        raise psycopg.OperationalError("the connection is broken")
    # poll(), not select(): select() refuses a descriptor numbered 1024 or more, which a process
    # with many files or sockets open hands out.
    listening = select.poll()
    listening.register(connection.pgconn.socket, select.POLLIN)
    if listening.poll(0):
        ConnectionPool.check_connection(connection)
