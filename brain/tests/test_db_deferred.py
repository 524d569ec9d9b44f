"""brain.db.postgresql: a statement given to execute_deferred() inside a transaction, and the
transaction's BEGIN, are held and sent in the next statement's message, or the COMMIT's, ahead of
it; nothing else changes. What goes over the wire is read from libpq's protocol trace."""

import contextlib
import tempfile

import pytest
from django.db import (
    IntegrityError,
    InternalError,
    ProgrammingError,
    connection,
    connections,
    transaction,
)
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from psycopg import IsolationLevel, pq, sql

from audit.models import AuditLog
from events.models import SystemEvent

INSERT = (
    "INSERT INTO audit_logs (timestamp, changed_fields, operation, table_name, record_id, "
    "user_agent, request_id) VALUES (now(), '{}', %s, 'deferred_test', %s, '', '')"
)


def deferred(operation="CREATE", record_id="1"):
    connection.execute_deferred(INSERT, [operation, record_id])


@contextlib.contextmanager
def wire():
    """The messages the client sends to PostgreSQL inside the block (libpq's trace), as
    (message type, text) pairs, and the number of round trips (ReadyForQuery answers)."""
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    sent = {"messages": [], "round_trips": 0}
    with tempfile.TemporaryFile("w+") as trace:
        pgconn.trace(trace.fileno())
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            yield sent
        finally:
            pgconn.untrace()
        trace.seek(0)
        text = trace.read()
    for direction, _, kind, body in _records(text):
        if direction == "F":
            sent["messages"].append((kind, body))
        elif kind == "ReadyForQuery":
            sent["round_trips"] += 1


def _records(text):
    """libpq trace lines (direction, length, message type, body); a body may span lines."""
    records = []
    for line in text.splitlines():
        parts = line.split("\t", 3)
        if len(parts) >= 3 and parts[0] in {"F", "B"}:
            records.append([*parts, ""][:4])
        elif records:
            records[-1][3] += "\n" + line
    return records


def queries_sent(sent):
    return [body.strip(' "') for kind, body in sent["messages"] if kind in {"Query", "Parse"}]


def committed_record_ids():
    """The test's records as another connection sees them: what has been committed."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT record_id FROM audit_logs WHERE table_name = 'deferred_test'")
            return [record_id for (record_id,) in cursor.fetchall()]
    finally:
        other.close()


def test_the_database_uses_brains_backend():
    assert connection.settings_dict["ENGINE"] == "brain.db.postgresql"
    assert connection.vendor == "postgresql"


@pytest.mark.django_db
def test_inside_a_transaction_the_statement_travels_with_the_next_one():
    with transaction.atomic():
        with wire() as held:
            deferred(record_id="1")
        with wire() as next_statement:
            records = AuditLog.objects.filter(table_name="deferred_test").count()

    assert held["messages"] == []
    [sent] = queries_sent(next_statement)
    assert sent.index("'deferred_test', '1'") < sent.index("COUNT")
    assert next_statement["round_trips"] == 1
    assert records == 1


@pytest.mark.django_db
def test_statements_that_cannot_carry_them_send_them_first():
    SystemEvent.objects.create(event_type="deploy", severity="info", message="a")
    with transaction.atomic():
        deferred(record_id="20")
        with wire() as before_executemany, connection.cursor() as cursor:
            cursor.executemany("SELECT %s", [(1,), (2,)])
        deferred(record_id="21")
        with wire() as before_server_side_cursor:
            list(SystemEvent.objects.iterator(chunk_size=10))

    for sent in before_executemany, before_server_side_cursor:
        first, *_ = queries_sent(sent)
        assert first.startswith("INSERT INTO audit_logs") and first.count(";") == 0
    assert AuditLog.objects.filter(table_name="deferred_test").count() == 2


@pytest.mark.django_db
def test_the_next_statement_keeps_its_own_result():
    event = SystemEvent.objects.create(event_type="deploy", severity="info", message="a")
    with transaction.atomic():
        deferred(record_id="2")
        updated = SystemEvent.objects.filter(pk=event.pk).update(message="b")
        deferred(record_id="3")
        messages = list(SystemEvent.objects.filter(pk=event.pk).values_list("message", flat=True))

    assert updated == 1
    assert messages == ["b"]


@pytest.mark.django_db
def test_an_error_in_the_deferred_statement_is_raised_by_the_next_one():
    with pytest.raises(IntegrityError, match="audit_logs_operation_valid"):
        with transaction.atomic():
            deferred(operation="BAD")
            AuditLog.objects.count()

    assert AuditLog.objects.filter(table_name="deferred_test").count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_commit_carries_the_statements_in_one_round_trip():
    with wire() as sent:
        with transaction.atomic():
            SystemEvent.objects.exists()
            deferred(record_id="4")
            deferred(record_id="5")

    *_, last = queries_sent(sent)
    assert "'deferred_test', '4'" in last and "'deferred_test', '5'" in last
    assert last.endswith("COMMIT")
    assert sent["round_trips"] == 2  # BEGIN with the EXISTS, then the INSERTs with the COMMIT
    assert sorted(committed_record_ids()) == ["4", "5"]


@pytest.mark.django_db(transaction=True)
def test_an_error_raised_by_the_commit_rolls_the_transaction_back():
    event = SystemEvent.objects.create(event_type="deploy", severity="info", message="kept")

    with pytest.raises(IntegrityError):
        with transaction.atomic():
            SystemEvent.objects.filter(pk=event.pk).update(message="lost")
            deferred(operation="BAD")

    assert SystemEvent.objects.get(pk=event.pk).message == "kept"
    assert committed_record_ids() == []


@pytest.mark.django_db(transaction=True)
def test_a_transaction_rolled_back_for_another_reason_drops_the_statements():
    with wire() as rollback:
        with pytest.raises(RuntimeError), transaction.atomic():
            SystemEvent.objects.exists()
            deferred(record_id="7")
            raise RuntimeError

    assert not any("deferred_test" in query for query in queries_sent(rollback))
    assert committed_record_ids() == []
    # The connection is clean: the next transaction does not send them either.
    with transaction.atomic():
        SystemEvent.objects.exists()
    assert committed_record_ids() == []


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_statement_runs_at_once():
    deferred(record_id="8")

    assert committed_record_ids() == ["8"]


@pytest.mark.django_db
def test_copy_and_server_side_cursors_work_after_a_deferred_statement():
    SystemEvent.objects.create(event_type="deploy", severity="info", message="a")
    with transaction.atomic():
        deferred(record_id="9")
        with connection.cursor() as cursor:
            with cursor.copy("COPY (SELECT 1) TO STDOUT") as copy:
                assert [bytes(block) for block in copy] == [b"1\n"]
        deferred(record_id="10")
        streamed = [event.message for event in SystemEvent.objects.iterator(chunk_size=10)]

    assert streamed == ["a"]
    assert AuditLog.objects.filter(table_name="deferred_test").count() == 2


@pytest.mark.django_db
def test_savepoints_after_a_deferred_statement():
    with transaction.atomic():
        deferred(record_id="11")
        with pytest.raises(RuntimeError), transaction.atomic():
            deferred(record_id="12")
            raise RuntimeError
        kept = list(
            AuditLog.objects.filter(table_name="deferred_test").values_list("record_id", flat=True)
        )

    assert kept == ["11"]


@pytest.mark.django_db
def test_a_deferred_statement_is_logged_as_it_is_held(django_assert_num_queries):
    with transaction.atomic(), django_assert_num_queries(2) as captured:
        deferred(record_id="13")
        AuditLog.objects.filter(record_id="50%").count()

    held, carrier = (query["sql"] for query in captured.captured_queries)
    assert held.startswith("INSERT INTO audit_logs") and "'deferred_test', '13'" in held
    assert carrier.startswith("SELECT COUNT(*)") and "'50%'" in carrier


@pytest.mark.django_db
def test_text_with_percent_signs_and_quotes_is_sent_as_it_is():
    with transaction.atomic():
        deferred(record_id="50% 'off'; DROP")
        stored = list(
            AuditLog.objects.filter(table_name="deferred_test").values_list("record_id", flat=True)
        )

    assert stored == ["50% 'off'; DROP"]


@pytest.mark.django_db(transaction=True)
def test_a_transactions_begin_travels_with_its_first_statement():
    with wire() as sent, CaptureQueriesContext(connection) as logged:
        with transaction.atomic():
            SystemEvent.objects.exists()
            SystemEvent.objects.exists()

    first, second, commit = queries_sent(sent)
    assert first.startswith("BEGIN\n;\nSELECT") and second.startswith("SELECT")
    assert commit == "COMMIT"
    assert sent["round_trips"] == 3
    assert [query["sql"].split(" ")[0] for query in logged] == [
        "BEGIN",
        "SELECT",
        "SELECT",
        "COMMIT",
    ]


@pytest.mark.django_db(transaction=True)
def test_a_transaction_that_runs_nothing_sends_nothing():
    connection.ensure_connection()
    with wire() as sent:
        with transaction.atomic():
            pass
        with pytest.raises(RuntimeError), transaction.atomic():
            raise RuntimeError

    assert sent["messages"] == []


@pytest.mark.django_db(transaction=True)
def test_a_failed_transaction_is_rolled_back():
    with pytest.raises(IntegrityError), transaction.atomic():
        SystemEvent.objects.create(event_type="deploy", severity="info", message="lost")
        SystemEvent.objects.create(event_type="deploy", severity="bad", message="refused")

    assert not SystemEvent.objects.filter(message="lost").exists()
    assert connection.connection.info.transaction_status == pq.TransactionStatus.IDLE


def _holdable_cursors():
    with connection.cursor() as cursor:
        cursor.execute("SELECT is_holdable FROM pg_cursors WHERE name LIKE '_django_curs_%%'")
        return [holdable for (holdable,) in cursor.fetchall()]


@pytest.mark.django_db(transaction=True)
def test_named_cursors_are_held_past_the_transaction_only_outside_one():
    SystemEvent.objects.create(event_type="deploy", severity="info", message="a")
    seen = {}
    for in_transaction in (True, False):
        with transaction.atomic() if in_transaction else contextlib.nullcontext():
            iterator = SystemEvent.objects.iterator(chunk_size=1)
            next(iterator)
            seen[in_transaction] = _holdable_cursors()
            iterator.close()

    assert seen == {True: [False], False: [True]}


@pytest.mark.django_db(transaction=True)
def test_autocommit_cannot_be_changed_inside_a_transaction():
    connection.set_autocommit(False)
    try:
        SystemEvent.objects.exists()
        for autocommit in (True, False):
            with pytest.raises(ProgrammingError, match="can't change 'autocommit' now"):
                connection.set_autocommit(autocommit)
    finally:
        connection.rollback()
        connection.set_autocommit(True)


@pytest.mark.django_db(transaction=True)
def test_an_isolation_level_is_left_to_psycopg():
    other = connections.create_connection("default")
    options = {key: value for key, value in other.settings_dict["OPTIONS"].items() if key != "pool"}
    # Its own connection, outside the pool, which must not keep the isolation level.
    other.settings_dict = {
        **other.settings_dict,
        "OPTIONS": {**options, "isolation_level": IsolationLevel.REPEATABLE_READ},
    }
    try:
        other.set_autocommit(False)  # as transaction.atomic() does
        with other.cursor() as cursor:
            cursor.execute("SHOW transaction_isolation")
            level = cursor.fetchone()[0]
        other.rollback()
    finally:
        other.close()

    assert level == "repeatable read"


def _insert_event(cursor, message):
    cursor.execute(
        "INSERT INTO system_events (event_type, severity, message, source, timestamp, created_at) "
        "VALUES ('deploy', 'info', %s, '', now(), now())",
        [message],
    )


@pytest.mark.django_db(transaction=True)
def test_every_kind_of_first_statement_runs_inside_the_transaction():
    def composed(cursor):
        cursor.execute(
            sql.SQL(
                "INSERT INTO system_events (event_type, severity, message, source, timestamp, "
                "created_at) VALUES ('deploy', 'info', {}, '', now(), now())"
            ).format(sql.Literal("composed"))
        )

    def executemany(cursor):
        cursor.executemany(
            "INSERT INTO system_events (event_type, severity, message, source, timestamp, "
            "created_at) VALUES ('deploy', 'info', %s, '', now(), now())",
            [("many",)],
        )

    def copy(cursor):
        with cursor.copy(
            "COPY system_events (event_type, severity, message, source, timestamp, created_at) "
            "FROM STDIN"
        ) as copying:
            copying.write_row(["deploy", "info", "copied", "", "2026-01-01", "2026-01-01"])

    for first_statement in (composed, executemany, copy):
        with pytest.raises(RuntimeError), transaction.atomic():
            with connection.cursor() as cursor:
                first_statement(cursor)
            raise RuntimeError

    assert not SystemEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_first_statement_postgresql_refuses_whole_leaves_the_block_broken():
    with pytest.raises(RuntimeError), transaction.atomic():
        with connection.cursor() as cursor:
            with pytest.raises(ProgrammingError):
                cursor.execute("SELEC 1")
            with pytest.raises(TransactionManagementError):
                _insert_event(cursor, "after the error")
        raise RuntimeError

    assert not SystemEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_held_statement_failing_in_an_inner_blocks_savepoint_fails_the_commit():
    with pytest.raises(InternalError, match="an earlier statement of the transaction failed"):
        with transaction.atomic():
            with connection.cursor() as cursor:
                _insert_event(cursor, "outer")
            deferred(operation="BAD")
            try:
                with transaction.atomic():  # its SAVEPOINT carries the failing INSERT
                    pass
            except IntegrityError:
                pass

    assert not SystemEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_savepoint_rollback_drops_the_statements_held_since():
    with transaction.atomic():
        with connection.cursor() as cursor:
            _insert_event(cursor, "outer")
        with pytest.raises(RuntimeError), transaction.atomic():
            deferred(operation="BAD")  # would fail, but the block is rolled back anyway
            raise RuntimeError
        deferred(record_id="30")

    assert list(SystemEvent.objects.values_list("message", flat=True)) == ["outer"]
    assert committed_record_ids() == ["30"]


@pytest.mark.django_db
def test_a_held_statement_ending_in_a_comment():
    with transaction.atomic():
        connection.execute_deferred(INSERT + " -- a note", ["CREATE", "31"])
        stored = list(
            AuditLog.objects.filter(table_name="deferred_test").values_list("record_id", flat=True)
        )

    assert stored == ["31"]


@pytest.mark.django_db
def test_a_broken_block_refuses_to_hold_a_statement():
    with transaction.atomic():
        with pytest.raises(IntegrityError), transaction.atomic(savepoint=False):
            SystemEvent.objects.create(event_type="deploy", severity="bad", message="m")
        with pytest.raises(TransactionManagementError):
            deferred(record_id="32")


@pytest.mark.django_db(transaction=True)
def test_an_empty_transaction_is_logged_like_any_other():
    with CaptureQueriesContext(connection) as logged, transaction.atomic():
        pass

    assert [query["sql"] for query in logged] == ["BEGIN", "COMMIT"]


@pytest.mark.django_db
def test_a_failed_carrier_is_logged_as_itself():
    with pytest.raises(IntegrityError), transaction.atomic():
        with CaptureQueriesContext(connection) as logged:
            deferred(operation="BAD")
            try:
                AuditLog.objects.count()
            finally:
                sent = [query["sql"] for query in logged]

    held, carrier = sent
    assert held.startswith("INSERT INTO audit_logs")
    assert carrier.startswith("SELECT COUNT(*)")
