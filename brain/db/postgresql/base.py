"""Django's PostgreSQL backend, plus statements that travel with the next one: a transaction's
BEGIN, and statements whose result nobody reads.

An audit record's INSERT returns nothing its caller reads, yet a plain `execute()` waits a full
round trip to PostgreSQL for its answer: on an audited save that wait costs as much as the UPDATE
itself (docs/benchmarks.md, "Audit"). Inside a transaction, `execute_deferred()` binds such a
statement client-side into SQL text and holds it. The transaction's next statement carries the
held ones in its own message, ahead of itself (the simple query protocol runs several statements
in one message), and so does the COMMIT: they cost no round trip of their own, and they run in
order, so the transaction sees what it would have seen had they run at once. A statement that
cannot carry them (executemany, a server-side cursor, server-side binding, COPY) sends them first,
on their own.

An error in a held statement is raised by the statement or the commit that carries it, and the
transaction is rolled back as for any failed statement; a rollback drops the statements still held
(they never ran). Each is logged (connection.queries) when it is held, and the statement that
carries it is logged as itself.

Outside a transaction (autocommit), `execute_deferred()` is a plain `execute()`.

A transaction's BEGIN is held the same way. psycopg, out of autocommit, sends BEGIN in a round trip
of its own before the transaction's first statement; here psycopg stays in autocommit mode and the
BEGIN travels with that first statement. A transaction that runs no statement costs no round trip
at all, and its COMMIT or ROLLBACK is not sent either (psycopg sends them only when PostgreSQL is in
a transaction). With an isolation level, read-only or deferrable set on the connection, psycopg
begins transactions itself, as in Django's backend.
"""

import logging

import psycopg
from django.db.backends.postgresql import base, operations
from psycopg import pq
from django.db.backends.utils import CursorWrapper, debug_transaction
from django.utils.asyncio import async_unsafe

logger = logging.getLogger("django.db.backends")


class DeferredAwareCursorWrapper(CursorWrapper):
    def copy(self, *args, **kwargs):
        # COPY has its own protocol: the held statements are sent before it.
        self.db.send_deferred()
        return self.cursor.copy(*args, **kwargs)


class DeferredAwareCursorDebugWrapper(base.CursorDebugWrapper):
    def copy(self, statement):
        self.db.send_deferred()
        return super().copy(statement)


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor, sql, params):
        query = super().last_executed_query(cursor, sql, params)
        carrier, carried_length = self.connection._last_carrier
        if cursor is carrier and query is not None:
            query = query[carried_length:]  # the held statements were logged as they were held
        return query


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._deferred = []
        self._begin_held = False
        self._deferring_cursor = None
        # The cursor whose last statement carried held ones, and the length of their text.
        self._last_carrier = (None, 0)
        # Outermost wrapper: every statement sends the held ones first.
        self.execute_wrappers.append(self._send_deferred_first)

    def execute_deferred(self, sql, params=None):
        """Executes `sql`, whose result the caller does not read, with the transaction's next
        statement or its COMMIT when inside a transaction (see the module's docstring)."""
        if not self.in_atomic_block:
            with self.cursor() as cursor:
                cursor.execute(sql, params)
            return
        self.ensure_connection()
        with self.wrap_database_errors:
            statement = self._deferring().mogrify(sql, params)
        self._deferred.append(statement)
        if self.queries_logged:
            # Logged as it is held, as Django logs each statement; its time is the carrier's.
            self.queries_log.append({"sql": statement, "time": "0.000"})
            logger.debug(
                "(0.000) %s; args=None; alias=%s; deferred",
                statement,
                self.alias,
                extra={"duration": 0, "sql": statement, "params": None, "alias": self.alias},
            )

    def send_deferred(self, then=None):
        """Sends the held statements, followed by `then` (SQL text) when given, in one message
        and one round trip, raising the first error among them. Nothing when none is held and
        `then` is None."""
        statements = self._take_deferred()
        if then is not None:
            statements.append(then)
        if statements:
            with self.wrap_database_errors:
                self._deferring().execute(";\n".join(statements))

    def _deferring(self):
        """The connection's cursor for held statements: client-side binding, whatever the
        connection's cursors use, as they are sent as text; it only binds and sends."""
        cursor = self._deferring_cursor
        if cursor is None or cursor.connection is not self.connection:
            cursor = self._deferring_cursor = psycopg.ClientCursor(self.connection)
        return cursor

    def _take_deferred(self):
        statements, self._deferred, self._begin_held = self._deferred, [], False
        return statements

    def _send_deferred_first(self, execute, sql, params, many, context):
        self._last_carrier = (None, 0)
        if not self._deferred:
            return execute(sql, params, many, context)
        cursor = context["cursor"].cursor
        if many or not isinstance(cursor, psycopg.ClientCursor):
            # Extended query protocol (server-side binding or cursor), or executemany: one
            # statement per message.
            self.send_deferred()
            return execute(sql, params, many, context)
        if params is not None:
            # Bound on its own, as execute() would: psycopg caches the parse of the statement's
            # text, which the carried statements would make new each time.
            with self.wrap_database_errors:
                sql, params = cursor.mogrify(sql, params), None
        statements = self._take_deferred()
        carried = "".join(f"{statement};\n" for statement in statements)
        result = execute(carried + sql, params, many, context)
        for _ in statements:
            cursor.nextset()  # the carried statements' results come first
        self._last_carrier = (cursor, len(carried))
        return result

    def _holds_begin(self):
        connection = self.connection
        return (
            connection.isolation_level is None
            and connection.read_only is None
            and connection.deferrable is None
        )

    def _set_autocommit(self, autocommit):
        if not self._holds_begin():
            return super()._set_autocommit(autocommit)
        status = self.connection.info.transaction_status
        if autocommit and status != pq.TransactionStatus.IDLE:
            with self.wrap_database_errors:  # as psycopg refuses it
                raise psycopg.ProgrammingError(
                    f"can't change 'autocommit' now: connection in transaction status {status.name}"
                )
        if not self.connection.autocommit:  # a new connection: the pool's start without it
            with self.wrap_database_errors:
                self.connection.autocommit = True
        self._take_deferred()
        if not autocommit:
            self._deferred.append("BEGIN")
            self._begin_held = True

    def _commit(self):
        if self._begin_held and len(self._deferred) == 1:
            self._take_deferred()  # the transaction ran nothing: nothing to send
            return None
        if not self._deferred:
            return super()._commit()  # psycopg's: COMMIT when PostgreSQL is in a transaction
        with debug_transaction(self, "COMMIT"):
            self.send_deferred(then="COMMIT")
        return None

    def _rollback(self):
        self._take_deferred()
        return super()._rollback()  # psycopg's: ROLLBACK when PostgreSQL is in a transaction

    def _close(self):
        self._take_deferred()
        self._deferring_cursor = None
        return super()._close()

    @async_unsafe
    def create_cursor(self, name=None):
        cursor = super().create_cursor(name)
        if name is not None and self._holds_begin():
            # Django declares a named cursor WITH HOLD (kept past the transaction) when psycopg is
            # in autocommit mode, which here it always is: only outside Django's transactions.
            cursor._withhold = self.get_autocommit()
        return cursor

    def make_cursor(self, cursor):
        return DeferredAwareCursorWrapper(cursor, self)

    def make_debug_cursor(self, cursor):
        return DeferredAwareCursorDebugWrapper(cursor, self)
