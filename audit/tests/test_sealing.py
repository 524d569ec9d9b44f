"""Sealing chains the committed records into signed checkpoints, in an order no later commit can
break, once each, whatever the writers and sealers do at the same time."""

import threading

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from audit import chain
from audit.models import AuditCheckpoint, AuditLog
from audit.sealing import audit_seal
from audit.signing import signature_valid, signing_key
from audit.verification import audit_verify

from .factories import SystemEventFactory
from .trail import insert_record, raw_connection, seal_all

pytestmark = pytest.mark.django_db(transaction=True)


def sealed_ids():
    """The record ids of every seal checkpoint's locator, in sealed order."""
    return [
        record_id
        for checkpoint in AuditCheckpoint.objects.filter(kind="seal").order_by("sequence")
        for record_id, _ in chain.locator_entries(checkpoint.records)
    ]


def test_a_seal_chains_the_committed_records_into_one_signed_checkpoint():
    SystemEventFactory.create_batch(3)
    ids = list(AuditLog.objects.order_by("id").values_list("id", flat=True))

    [checkpoint] = seal_all()

    checkpoint = AuditCheckpoint.objects.get()
    assert (checkpoint.sequence, checkpoint.kind, checkpoint.record_count) == (1, "seal", 3)
    assert (checkpoint.first_record_id, checkpoint.last_record_id) == (ids[0], ids[-1])
    assert checkpoint.previous_hash == "0" * 64
    assert signature_valid(
        signing_key().public_key(), chain.checkpoint_body(checkpoint), checkpoint.signature
    )
    assert sealed_ids() == ids


def test_a_seal_with_nothing_new_writes_no_checkpoint(capsys):
    SystemEventFactory()
    seal_all()

    call_command("seal_audit")

    assert "Nothing to seal." in capsys.readouterr().out
    assert AuditCheckpoint.objects.count() == 1


def test_the_next_seal_continues_the_chain_where_the_last_ended(capsys):
    SystemEventFactory()
    seal_all()
    SystemEventFactory.create_batch(2)

    call_command("seal_audit")

    first, second = AuditCheckpoint.objects.order_by("sequence")
    assert second.previous_hash == chain.checkpoint_hash(first)
    assert (second.first_xid, second.first_record_id) > (first.last_xid, first.last_record_id)
    assert second.record_count == 2
    assert "Sealed 2 audit records in 1 checkpoints, through checkpoint 2." in (
        capsys.readouterr().out
    )
    assert audit_verify().ok


def test_a_checkpoint_holds_at_most_max_records():
    SystemEventFactory.create_batch(5)

    seal_all(max_records=2)

    assert list(
        AuditCheckpoint.objects.order_by("sequence").values_list("record_count", flat=True)
    ) == [2, 2, 1]
    assert audit_verify().ok


def test_positions_compare_transaction_ids_as_numbers():
    """Transactions 10, 9 and 100 (as a long-lived server numbers them): sealed 9, 10, 100."""
    ids = {}
    with connection.cursor() as cursor:
        for xid in ("10", "9", "100"):
            cursor.execute(
                "INSERT INTO audit_logs (xid, user_id, changed_fields, operation, table_name,"
                " record_id, user_agent, request_id) VALUES (%s::xid8, NULL, '{}', 'CREATE',"
                " 'system_events', %s, '', '') RETURNING id",
                [xid, xid],
            )
            ids[xid] = cursor.fetchone()[0]

    seal_all(max_records=1)

    assert sealed_ids() == [ids["9"], ids["10"], ids["100"]]
    assert audit_verify().ok


@pytest.mark.parametrize("later_first", [True, False])
def test_a_record_committed_after_a_higher_id_is_sealed_after_it_not_skipped(later_first):
    """Two transactions overlap; the one holding the lower record id commits last. With
    `later_first`, that one also began writing first (its transaction id is the lower)."""
    lower, higher = raw_connection(), raw_connection()
    try:
        if not later_first:
            higher.execute("SELECT pg_current_xact_id()")  # the higher id's transaction first
        low_id = insert_record(lower, "low")
        high_id = insert_record(higher, "high")
        assert low_id < high_id
        higher.commit()

        audit_seal()
        if later_first:
            # Older than `higher`, `lower` is still open: nothing after it may be sealed yet.
            assert high_id not in sealed_ids()
        else:
            seal_until_sealed(high_id)
        assert low_id not in sealed_ids()

        lower.commit()
        seal_all()
    finally:
        lower.close()
        higher.close()

    assert sorted(sealed_ids()) == sorted(AuditLog.objects.values_list("id", flat=True))
    assert len(set(sealed_ids())) == len(sealed_ids())
    if not later_first:
        assert sealed_ids().index(high_id) < sealed_ids().index(low_id)
    assert audit_verify().ok


def seal_until_sealed(record_id):
    """Seals until `record_id` is sealed (other sessions' transactions may delay it)."""
    for _ in range(1200):
        audit_seal()
        if record_id in sealed_ids():
            return
        threading.Event().wait(0.05)
    pytest.fail(f"record {record_id} not sealed within 60 s")


def test_records_of_eight_writers_are_sealed_once_each_while_two_sealers_run():
    stop = threading.Event()
    errors = []

    def in_thread(function):
        def run():
            try:
                function()
            except Exception as error:  # reported by the test, not lost in the thread
                errors.append(error)
            finally:
                connections.close_all()

        return threading.Thread(target=run)

    def write():
        for _ in range(25):
            SystemEventFactory()

    def seal_repeatedly():
        while not stop.is_set():
            audit_seal(max_records=7)

    writers = [in_thread(write) for _ in range(8)]
    sealers = [in_thread(seal_repeatedly) for _ in range(2)]
    for thread in [*sealers, *writers]:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in sealers:
        thread.join()
    assert errors == []
    seal_all()

    ids = sealed_ids()
    assert len(ids) == len(set(ids)) == AuditLog.objects.count() == 200
    sequences = AuditCheckpoint.objects.order_by("sequence").values_list("sequence", flat=True)
    assert list(sequences) == list(range(1, len(sequences) + 1))
    assert audit_verify().ok


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_checkpoints SET record_count = 0",
        "DELETE FROM audit_checkpoints",
        "TRUNCATE audit_checkpoints",
    ],
)
def test_checkpoints_are_append_only(statement):
    SystemEventFactory()
    seal_all()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(statement)

    assert AuditCheckpoint.objects.get().record_count == 1


def test_the_records_of_one_large_transaction_are_read_from_the_index_a_batch_at_a_time():
    # One transaction's records share its xid, so PostgreSQL estimates that hardly any record
    # follows a position inside them; sorting "every record after it" would then be its plan, and
    # each batch of a sealer, purge or verification would read the rest of the table.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_logs (user_id, changed_fields, operation, table_name, record_id,"
            " user_agent, request_id) SELECT 'system:test', '{}', 'CREATE', 'system_events',"
            " n::text, '', '' FROM generate_series(1, 20000) AS n"
        )
        cursor.execute("ANALYZE audit_logs")
    middle = AuditLog.objects.order_by("id")[10_000]
    with connection.cursor() as cursor:
        cursor.execute("SELECT xid::text FROM audit_logs WHERE id = %s", [middle.pk])
        after = chain.Position(int(cursor.fetchone()[0]), middle.pk)

    with transaction.atomic(), connection.cursor() as cursor:
        chain.read_in_position_order(cursor)
        with CaptureQueriesContext(connection) as read, connection.cursor() as reading:
            assert len(chain.read_records(reading, after, limit=100)) == 100
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + read[-1]["sql"])
        plan = cursor.fetchone()[0][0]["Plan"]

    assert plan["Node Type"] == "Limit"
    assert plan["Plans"][0]["Node Type"] != "Sort"
    assert plan["Plans"][0]["Actual Rows"] == 100  # stopped at the limit, not 9,999 read
