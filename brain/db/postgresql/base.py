"""Django's PostgreSQL backend, plus statements sent without waiting for their answer.

An audit record's INSERT returns nothing its caller reads, yet a plain `execute()` waits a full
round trip to PostgreSQL for its answer: on an audited save that wait costs as much as the UPDATE
itself (docs/benchmarks.md, "Audit"). `execute_pipelined()` sends such a statement in psycopg's
pipeline mode and returns at once; its answer is collected with the next statement's, or with
the COMMIT, in that one round trip. Inside a transaction that changes nothing a caller can see:
every statement still runs in order in the same transaction, and an error in the pipelined one
is raised by the next statement or by the commit, which then rolls the whole transaction back.

Outside a transaction (autocommit), `execute_pipelined()` is a plain `execute()`: pipelined
statements would otherwise share an implicit transaction.
"""

import logging

import psycopg
from django.db.backends.postgresql import base
from django.db.backends.utils import CursorWrapper, debug_transaction

logger = logging.getLogger(__name__)


class PipelineAwareCursorWrapper(CursorWrapper):
    def copy(self, *args, **kwargs):
        # COPY is refused in pipeline mode: the pending answers are collected first.
        self.db.complete_pipeline()
        return self.cursor.copy(*args, **kwargs)


class PipelineAwareCursorDebugWrapper(base.CursorDebugWrapper):
    def copy(self, statement):
        self.db.complete_pipeline()
        return super().copy(statement)


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pipeline = None
        self._pipelined_cursor = None
        self._sending_pipelined = False
        # Outermost wrapper: the statement after a pipelined one joins its round trip.
        self.execute_wrappers.append(self._join_pipeline)

    def execute_pipelined(self, sql, params=None):
        """Executes `sql`, whose result the caller does not read, without waiting for its answer
        when inside a transaction (see the module's docstring)."""
        if not self.in_atomic_block:
            with self.cursor() as cursor:
                cursor.execute(sql, params)
            return
        if self._pipeline is None:
            with self.wrap_database_errors:
                self._pipeline = self.connection.pipeline()
                self._pipeline.__enter__()
        cursor = self._pipelined_cursor
        if cursor is None or cursor.connection is not self.connection:
            # The connection's own cursor class (client-side binding unless OPTIONS sets
            # server_side_binding; the cheaper of the two here, in docs/benchmarks.md). One cursor
            # per connection: nothing reads its results.
            cursor = self._pipelined_cursor = self.connection.cursor()
        wrapper = self.make_debug_cursor(cursor) if self.queries_logged else self.make_cursor(cursor)
        self._sending_pipelined = True
        try:
            wrapper.execute(sql, params)
        finally:
            self._sending_pipelined = False

    def complete_pipeline(self):
        """Collects the answers of the pipelined statements, raising the first error among them,
        and leaves pipeline mode. One round trip; nothing when none is pending."""
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            with self.wrap_database_errors:
                pipeline.__exit__(None, None, None)

    def _join_pipeline(self, execute, sql, params, many, context):
        if self._pipeline is None or self._sending_pipelined:
            return execute(sql, params, many, context)
        if isinstance(context["cursor"].cursor, psycopg.ServerCursor):
            # Server-side cursors are refused in pipeline mode.
            self.complete_pipeline()
            return execute(sql, params, many, context)
        try:
            result = execute(sql, params, many, context)
        except BaseException:
            self._discard_pipeline()
            raise
        self.complete_pipeline()
        return result

    def _discard_pipeline(self):
        """Leaves pipeline mode when the transaction is being abandoned: an error among the
        pending answers is logged, not raised (the rollback undoes those statements anyway)."""
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            try:
                pipeline.__exit__(None, None, None)
            except psycopg.Error:
                logger.warning("pipelined statement failed in a rolled-back transaction",
                               exc_info=True)

    def _commit(self):
        if self._pipeline is None:
            return super()._commit()
        # COMMIT joins the pipeline: the pending answers and the commit's come in one round trip.
        with debug_transaction(self, "COMMIT"):
            with self.wrap_database_errors:
                self.connection.execute("COMMIT")
            self.complete_pipeline()

    def _rollback(self):
        self._discard_pipeline()
        return super()._rollback()

    def _close(self):
        self._discard_pipeline()
        self._pipelined_cursor = None
        return super()._close()

    def make_cursor(self, cursor):
        return PipelineAwareCursorWrapper(cursor, self)

    def make_debug_cursor(self, cursor):
        return PipelineAwareCursorDebugWrapper(cursor, self)
