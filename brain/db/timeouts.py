"""A statement timeout for a block of code that cannot outlive it."""

from contextlib import ExitStack

from django.db import DEFAULT_DB_ALIAS, connections, transaction

# set_config(..., true) is SET LOCAL, with the value as a parameter.
SET_LOCAL_STATEMENT_TIMEOUT = "SELECT set_config('statement_timeout', %s, true)"


class StatementTimeout:
    """Context manager: PostgreSQL cancels any statement of the block that runs longer than
    `seconds` (SQLSTATE 57014, raised as Django's OperationalError).

    The timeout is a SET LOCAL in a transaction that the block's first query begins and the
    block's end commits (or rolls back, on an exception). It ends with that transaction, so it
    never stays on a connection handed back to the pool (psycopg_pool rolls back a transaction a
    connection comes back with, and resets no setting). A block that runs no query begins no
    transaction and takes no connection. When the first query runs inside a transaction the
    block did not begin, the timeout is set in that one and ends with it.
    """

    def __init__(self, seconds: float, *, using: str = DEFAULT_DB_ALIAS):
        self.milliseconds = max(round(seconds * 1000), 1)
        self.connection = connections[using]
        self.using = using

    def __enter__(self):
        self.stack = ExitStack()
        self.pending = True
        self.stack.enter_context(self.connection.execute_wrapper(self._first_query))
        return self

    def __exit__(self, *exc_info):
        return self.stack.__exit__(*exc_info)

    def _first_query(self, execute, sql, params, many, context):
        if self.pending:
            self.pending = False  # before the SET below, which runs through this wrapper too
            if not self.connection.in_atomic_block:
                self.stack.enter_context(transaction.atomic(using=self.using))
            with self.connection.cursor() as cursor:
                cursor.execute(SET_LOCAL_STATEMENT_TIMEOUT, [str(self.milliseconds)])
        return execute(sql, params, many, context)
