"""Django's PostgreSQL backend, plus statements that travel with the next one.

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
"""

import logging

import psycopg
from django.db.backends.postgresql import base, operations
from django.db.backends.utils import CursorWrapper, debug_transaction

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
        cursor = self._deferring_cursor
        if cursor is None or cursor.connection is not self.connection:
            # Client-side binding, whatever the connection's cursors use: the statements are
            # sent as text. One cursor per connection: it only binds and sends.
            cursor = self._deferring_cursor = psycopg.ClientCursor(self.connection)
        with self.wrap_database_errors:
            statement = cursor.mogrify(sql, params)
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
        statements, self._deferred = self._deferred, []
        if then is not None:
            statements.append(then)
        if statements:
            with self.wrap_database_errors:
                self._deferring_cursor.execute(";\n".join(statements))

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
        statements, self._deferred = self._deferred, []
        carried = "".join(f"{statement};\n" for statement in statements)
        result = execute(carried + sql, params, many, context)
        for _ in statements:
            cursor.nextset()  # the carried statements' results come first
        self._last_carrier = (cursor, len(carried))
        return result

    def _commit(self):
        if not self._deferred:
            return super()._commit()
        with debug_transaction(self, "COMMIT"):
            self.send_deferred(then="COMMIT")

    def _rollback(self):
        self._deferred.clear()
        return super()._rollback()

    def _close(self):
        self._deferred.clear()
        self._deferring_cursor = None
        return super()._close()

    def make_cursor(self, cursor):
        return DeferredAwareCursorWrapper(cursor, self)

    def make_debug_cursor(self, cursor):
        return DeferredAwareCursorDebugWrapper(cursor, self)
