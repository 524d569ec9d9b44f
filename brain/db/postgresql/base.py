"""Django's PostgreSQL backend, plus statements that travel with the next one: a transaction's
BEGIN, and statements whose result nobody reads.

An audit record's INSERT returns nothing its caller reads, yet a plain `execute()` waits a full
round trip to PostgreSQL for its answer: on an audited save that wait costs as much as the UPDATE
itself (docs/benchmarks.md, "Audit"). Inside a transaction, `execute_deferred()` binds such a
statement client-side into SQL text and holds it. The transaction's next statement carries the
held ones in its own message, ahead of itself (the simple query protocol runs several statements
in one message), and so does the COMMIT: they cost no round trip of their own, and they run in
order, so the transaction sees what it would have seen had they run at once. A statement that
cannot carry them (executemany, a server-side cursor, server-side binding, COPY, callproc, stream)
sends them first, on their own. A rollback, to a savepoint or of the transaction, drops them unsent:
it would undo them.

A transaction's BEGIN is held the same way. psycopg, out of autocommit, sends BEGIN in a round trip
of its own before the transaction's first statement; here psycopg stays in autocommit mode and the
BEGIN travels with that first statement. A transaction that runs no statement costs no round trip
at all (psycopg sends COMMIT and ROLLBACK only when PostgreSQL is in a transaction). With an
isolation level, read-only or deferrable set on the connection, psycopg begins transactions itself,
as in Django's backend. Code using the psycopg connection directly (`connection.connection`)
bypasses all of this, and finds it in autocommit mode.

Errors: an error in a held statement is raised by the statement or the commit that carries it. A
message that fails before PostgreSQL ran any of it (a syntax error, text that cannot be encoded)
leaves the transaction unbegun: the atomic block is marked for rollback, as Django marks a block
whose statement failed, and its BEGIN is held again. A COMMIT of a transaction PostgreSQL has
aborted raises, rather than being turned into a silent ROLLBACK, since a held statement's error can
surface outside the block that caught it (in an inner block's SAVEPOINT).

Logging: each held statement is logged (connection.queries) when it is held, BEGIN when Django
begins the transaction; the statement that carries them is logged as itself.

Outside a transaction (autocommit), `execute_deferred()` is a plain `execute()`. It takes one
statement.
"""

import logging

import psycopg
from django.db.backends.postgresql import base, operations
from django.db.backends.utils import CursorWrapper, debug_transaction
from django.utils.asyncio import async_unsafe
from psycopg import errors, pq

logger = logging.getLogger("django.db.backends")

IDLE = pq.TransactionStatus.IDLE
INERROR = pq.TransactionStatus.INERROR


class DeferredAwareCursorMixin:
    """Django's cursor wrapper, carrying the held statements with the next statement (innermost,
    below any execute wrapper, which sees the statement as it was given)."""

    def _execute(self, sql, params, *ignored_wrapper_args):
        if not self.db._deferred:
            return super()._execute(sql, params, *ignored_wrapper_args)
        if not isinstance(self.cursor, psycopg.ClientCursor):
            # The extended query protocol (server-side binding or cursor): one statement.
            self.db.send_deferred()
            return super()._execute(sql, params, *ignored_wrapper_args)
        self.db.validate_no_broken_transaction()
        return self.db.execute_carrying(self.cursor, sql, params)

    def _executemany(self, sql, param_list, *ignored_wrapper_args):
        self.db.send_deferred()
        return super()._executemany(sql, param_list, *ignored_wrapper_args)

    def callproc(self, *args, **kwargs):
        self.db.send_deferred()
        return super().callproc(*args, **kwargs)

    def stream(self, *args, **kwargs):
        self.db.send_deferred()
        return self.cursor.stream(*args, **kwargs)


class DeferredAwareCursorWrapper(DeferredAwareCursorMixin, CursorWrapper):
    def copy(self, *args, **kwargs):
        # COPY has its own protocol: the held statements are sent before it.
        self.db.send_deferred()
        return self.cursor.copy(*args, **kwargs)


class DeferredAwareCursorDebugWrapper(DeferredAwareCursorMixin, base.CursorDebugWrapper):
    def copy(self, statement):
        self.db.send_deferred()
        return super().copy(statement)


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor, sql, params):
        query = super().last_executed_query(cursor, sql, params)
        carrier, carried = self.connection._last_carrier
        if cursor is carrier and query is not None and query.startswith(carried):
            query = query[len(carried) :]  # the held statements were logged as they were held
        return query


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._deferred = []
        self._begin_held = False
        self._deferring_cursor = None
        # The cursor whose last statement carried held ones, and their text.
        self._last_carrier = (None, "")

    def execute_deferred(self, sql, params=None):
        """Executes `sql`, one statement whose result the caller does not read, with the
        transaction's next statement or its COMMIT when inside a transaction (see the module's
        docstring)."""
        if not self.in_atomic_block:
            with self.cursor() as cursor:
                cursor.execute(sql, params)
            return
        self.validate_thread_sharing()
        self.validate_no_broken_transaction()
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

    def execute_carrying(self, cursor, sql, params):
        """Executes `sql` on the psycopg client-side binding `cursor` with the held statements
        ahead of it, in one message; the cursor is left on the statement's own result."""
        with self.wrap_database_errors:
            # Bound on its own, as execute() would (psycopg caches the parse of the statement's
            # text, which the carried statements would make new each time); text, bytes or
            # psycopg.sql alike. What fails on the client (binding, encoding) fails here, before
            # the held statements are taken.
            statement = cursor.mogrify(sql, params)
        began = self._begin_held
        held = self._take_deferred()
        # The semicolon on a line of its own: a held statement may end in a -- comment.
        carried = "".join(f"{each}\n;\n" for each in held)
        self._last_carrier = (cursor, carried)  # for the log, whether it succeeds or fails
        try:
            with self.wrap_database_errors:
                cursor.execute(carried + statement)
        except Exception:
            self._sent_nothing(began)
            raise
        for _ in held:
            cursor.nextset()  # the carried statements' results come first
        return cursor

    def send_deferred(self, then=None):
        """Sends the held statements, followed by `then` (SQL text) when given, in one message
        and one round trip, raising the first error among them. Nothing when none is held and
        `then` is None."""
        began = self._begin_held
        statements = self._take_deferred()
        if then is not None:
            statements.append(then)
        if not statements:
            return
        try:
            with self.wrap_database_errors:
                self._deferring().execute("\n;\n".join(statements))
        except Exception:
            self._sent_nothing(began)
            raise

    def _sent_nothing(self, began):
        """After a failed message: when it carried the BEGIN and PostgreSQL ran none of it (a
        syntax error anywhere in it), the transaction has not begun. Its block is marked for
        rollback, as Django marks a block whose statement failed, and the BEGIN held again, so
        that nothing runs outside the transaction."""
        if not began or self.connection is None or self.connection.info.transaction_status != IDLE:
            return
        self._deferred, self._begin_held = ["BEGIN"], True
        if self.in_atomic_block:
            self.needs_rollback = True

    def _deferring(self):
        """The connection's cursor for held statements: client-side binding, whatever the
        connection's cursors use, as they are sent as text; it only binds and sends."""
        cursor = self._deferring_cursor
        if cursor is None or cursor.connection is not self.connection:
            cursor = self._deferring_cursor = psycopg.ClientCursor(self.connection)
        return cursor

    def _take_deferred(self):
        statements, self._deferred, self._begin_held = self._deferred, [], False
        self._last_carrier = (None, "")
        return statements

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
        if status != IDLE:
            with self.wrap_database_errors:  # as psycopg refuses it
                raise psycopg.ProgrammingError(
                    f"can't change 'autocommit' now: connection in transaction status {status.name}"
                )
        if not self.connection.autocommit:  # a new connection: the pool's start without it
            with self.wrap_database_errors:
                self.connection.autocommit = True
        self._take_deferred()
        if not autocommit:
            self._deferred, self._begin_held = ["BEGIN"], True
        return None

    def _commit(self):
        if self.connection is None:
            return None
        status = self.connection.info.transaction_status
        if status == INERROR:
            with debug_transaction(self, "COMMIT"), self.wrap_database_errors:
                raise errors.InFailedSqlTransaction(
                    "cannot commit: an earlier statement of the transaction failed"
                )
        if status == IDLE and self._begin_held and len(self._deferred) == 1:
            with debug_transaction(self, "COMMIT"):  # the transaction ran nothing
                self._take_deferred()
            return None
        if not self._deferred:
            return super()._commit()  # psycopg's: COMMIT when PostgreSQL is in a transaction
        with debug_transaction(self, "COMMIT"):
            self.send_deferred(then="COMMIT")
        return None

    def _rollback(self):
        self._take_deferred()
        return super()._rollback()  # psycopg's: ROLLBACK when PostgreSQL is in a transaction

    def _savepoint_rollback(self, sid):
        # Everything held was held after SAVEPOINT sid (which carried what came before it).
        self._take_deferred()
        return super()._savepoint_rollback(sid)

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
