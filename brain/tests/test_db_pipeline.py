"""brain.db.postgresql: a statement sent with execute_pipelined() inside a transaction does not
wait for its answer, which comes with the next statement's or the commit's; nothing else
changes."""

import pytest
from django.db import IntegrityError, connection, connections, transaction
from psycopg.pq import PipelineStatus

from audit.models import AuditLog
from events.models import SystemEvent

INSERT = (
    "INSERT INTO audit_logs (timestamp, changed_fields, operation, table_name, record_id, "
    "user_agent, request_id) VALUES (now(), '{}', %s, 'pipeline_test', %s, '', '')"
)


def pipelined(operation="CREATE", record_id="1"):
    connection.execute_pipelined(INSERT, [operation, record_id])


def in_pipeline_mode():
    return connection.connection.pgconn.pipeline_status != PipelineStatus.OFF


def committed_record_ids():
    """The test's records as another connection sees them: what has been committed."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT record_id FROM audit_logs WHERE table_name = 'pipeline_test'")
            return [record_id for (record_id,) in cursor.fetchall()]
    finally:
        other.close()


def test_the_database_uses_brains_backend():
    assert connection.settings_dict["ENGINE"] == "brain.db.postgresql"
    assert connection.vendor == "postgresql"


@pytest.mark.django_db
def test_inside_a_transaction_the_statement_is_sent_without_waiting_for_its_answer():
    with transaction.atomic():
        pipelined(record_id="1")
        assert in_pipeline_mode()

        records = AuditLog.objects.filter(table_name="pipeline_test").count()

        assert not in_pipeline_mode()
        assert records == 1


@pytest.mark.django_db
def test_the_next_statement_keeps_its_own_result():
    event = SystemEvent.objects.create(event_type="deploy", severity="info", message="a")
    with transaction.atomic():
        pipelined(record_id="2")
        updated = SystemEvent.objects.filter(pk=event.pk).update(message="b")
        pipelined(record_id="3")
        messages = list(SystemEvent.objects.filter(pk=event.pk).values_list("message", flat=True))

    assert updated == 1
    assert messages == ["b"]


@pytest.mark.django_db
def test_an_error_in_the_pipelined_statement_is_raised_by_the_next_one():
    with pytest.raises(IntegrityError, match="audit_logs_operation_valid"):
        with transaction.atomic():
            pipelined(operation="BAD")
            AuditLog.objects.count()

    assert not in_pipeline_mode()
    assert AuditLog.objects.filter(table_name="pipeline_test").count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_commit_collects_the_answer_and_the_rows_are_committed():
    with transaction.atomic():
        pipelined(record_id="4")

    assert not in_pipeline_mode()
    assert committed_record_ids() == ["4"]


@pytest.mark.django_db(transaction=True)
def test_an_error_raised_by_the_commit_rolls_the_transaction_back():
    event = SystemEvent.objects.create(event_type="deploy", severity="info", message="kept")

    with pytest.raises(IntegrityError):
        with transaction.atomic():
            SystemEvent.objects.filter(pk=event.pk).update(message="lost")
            pipelined(operation="BAD")

    assert not in_pipeline_mode()
    assert SystemEvent.objects.get(pk=event.pk).message == "kept"


@pytest.mark.django_db(transaction=True)
def test_a_transaction_rolled_back_for_another_reason_discards_the_pipeline():
    with pytest.raises(RuntimeError), transaction.atomic():
        pipelined(operation="BAD")
        raise RuntimeError

    assert not in_pipeline_mode()
    assert AuditLog.objects.filter(table_name="pipeline_test").count() == 0


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_statement_runs_at_once():
    pipelined(record_id="5")

    assert not in_pipeline_mode()
    assert committed_record_ids() == ["5"]


@pytest.mark.django_db
def test_copy_and_server_side_cursors_work_after_a_pipelined_statement():
    SystemEvent.objects.create(event_type="deploy", severity="info", message="a")
    with transaction.atomic():
        pipelined(record_id="6")
        with connection.cursor() as cursor:
            with cursor.copy("COPY (SELECT 1) TO STDOUT") as copy:
                assert [bytes(block) for block in copy] == [b"1\n"]
        pipelined(record_id="7")
        streamed = [event.message for event in SystemEvent.objects.iterator(chunk_size=10)]

    assert streamed == ["a"]
    assert AuditLog.objects.filter(table_name="pipeline_test").count() == 2


@pytest.mark.django_db
def test_savepoints_after_a_pipelined_statement():
    with transaction.atomic():
        pipelined(record_id="8")
        with pytest.raises(RuntimeError), transaction.atomic():
            pipelined(record_id="9")
            raise RuntimeError
        kept = list(
            AuditLog.objects.filter(table_name="pipeline_test").values_list("record_id", flat=True)
        )

    assert kept == ["8"]
