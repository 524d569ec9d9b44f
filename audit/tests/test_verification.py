"""verify_audit recomputes the chain and checks every checkpoint: an untouched trail verifies, and
each change a superuser of the database could make (triggers off) is found and named."""

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from audit import chain, verification
from audit.models import AuditCheckpoint, AuditLog, AuditVerification
from audit.signing import key_id, public_key_raw, sign, signing_key
from audit.verification import audit_verify

from .factories import SystemEventFactory
from .trail import seal_all, tamper

pytestmark = pytest.mark.django_db(transaction=True)

OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


@pytest.fixture
def trail():
    """Two checkpoints: three records of three transactions, then two of one transaction. Returns
    the record ids in sealed order."""
    SystemEventFactory.create_batch(3)
    seal_all()
    with transaction.atomic():
        SystemEventFactory.create_batch(2)
    seal_all()
    assert AuditCheckpoint.objects.count() == 2
    return list(AuditLog.objects.order_by("id").values_list("id", flat=True))


def xid_of(record_id):
    """The id of the transaction that wrote the record."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT xid::text FROM audit_logs WHERE id = %s", [record_id])
        return int(cursor.fetchone()[0])


@pytest.fixture(params=[1, 2], ids=["in this process", "in two processes"])
def jobs(request):
    """The processes recomputing the chain: the outcome must not depend on it."""
    return request.param


def failure(jobs=1):
    result = audit_verify(jobs=jobs)
    assert not result.ok
    return result.failure


def test_an_untouched_trail_verifies(trail, capsys):
    call_command("verify_audit")

    assert capsys.readouterr().out == (
        "Verified 2 checkpoints and 5 records, through checkpoint 2 "
        f"({AuditCheckpoint.objects.get(sequence=2).created_at.isoformat()}); "
        "0 records not sealed yet.\n"
    )
    kept = AuditVerification.objects.get()
    assert (kept.ok, kept.through_sequence, kept.record_count, kept.failure) == (True, 2, 5, "")


def test_an_edited_field_is_named(trail, jobs):
    tamper("UPDATE audit_logs SET user_agent = 'forged' WHERE id = %s", [trail[1]])

    assert failure(jobs) == f"record {trail[1]} (checkpoint 1): changed after it was sealed"


def test_a_deleted_record_is_named(trail, jobs):
    tamper("DELETE FROM audit_logs WHERE id = %s", [trail[1]])

    assert failure(jobs) == f"record {trail[1]} (checkpoint 1): deleted after it was sealed"


def test_an_inserted_record_is_named(trail, jobs):
    forged = trail[-1] + 100
    # The first transaction's id puts it inside checkpoint 1's range.
    tamper(
        "INSERT INTO audit_logs (id, xid, user_id, changed_fields, operation, table_name,"
        " record_id, user_agent, request_id) VALUES (%s, %s::text::xid8, 'system:seed', '{}',"
        " 'CREATE', 'system_events', '99', '', '')",
        [forged, xid_of(trail[0])],
    )

    assert failure(jobs) == f"record {forged} (checkpoint 1): inserted into a sealed range"


def test_swapped_ids_are_named(trail, jobs):
    first, second = trail[0], trail[1]
    tamper(
        "UPDATE audit_logs SET id = -1 WHERE id = %s;"
        "UPDATE audit_logs SET id = %s WHERE id = %s;"
        "UPDATE audit_logs SET id = %s WHERE id = -1",
        [first, first, second, second],
    )

    assert failure(jobs) == f"record {second} (checkpoint 1): out of its sealed order"


def test_a_record_moved_later_in_its_range_is_named(trail, jobs):
    tamper(
        "UPDATE audit_logs SET xid = %s::text::xid8 WHERE id = %s",
        [xid_of(trail[2]), trail[0]],
    )

    assert failure(jobs) == f"record {trail[1]} (checkpoint 1): out of its sealed order"


def test_contents_swapped_between_two_records_are_named(trail, jobs):
    # Records 4 and 5 share a transaction: swapping their contents keeps every id and position.
    fourth, fifth = AuditLog.objects.filter(pk__in=trail[3:]).order_by("id")
    tamper(
        "UPDATE audit_logs SET record_id = CASE id WHEN %s THEN %s ELSE %s END"
        " WHERE id IN (%s, %s)",
        [fourth.pk, fifth.record_id, fourth.record_id, fourth.pk, fifth.pk],
    )

    assert failure(jobs) == f"record {fourth.pk} (checkpoint 2): changed after it was sealed"


def test_the_first_failure_in_the_trail_is_named_whichever_kind_it_is(trail, jobs):
    tamper("UPDATE audit_logs SET user_agent = 'forged' WHERE id = %s", [trail[3]])
    tamper("UPDATE audit_checkpoints SET record_count = 4 WHERE sequence = 1")

    assert failure(jobs) == (
        f"checkpoint 1: its signature does not match its content (key {our_key_id()})"
    )

    tamper("UPDATE audit_checkpoints SET record_count = 3 WHERE sequence = 1")
    SystemEventFactory()
    seal_all()
    tamper("DELETE FROM audit_checkpoints WHERE sequence = 2")

    assert failure(jobs) == "checkpoint 2: missing (the next is checkpoint 3)"

    tamper("UPDATE audit_logs SET user_agent = 'forged' WHERE id = %s", [trail[0]])

    result = audit_verify(jobs=jobs)
    assert result.failure == f"record {trail[0]} (checkpoint 1): changed after it was sealed"
    assert (result.through, result.checkpoints, result.records) == (None, 0, 0)


def test_ranges_are_checked_a_batch_at_a_time(trail, jobs, monkeypatch):
    monkeypatch.setattr(verification, "CHECKPOINT_BATCH", 1)
    assert audit_verify(jobs=jobs).records == 5

    tamper("UPDATE audit_logs SET user_agent = 'forged' WHERE id = %s", [trail[4]])

    result = audit_verify(jobs=jobs)
    assert result.failure == f"record {trail[4]} (checkpoint 2): changed after it was sealed"
    assert (result.through.sequence, result.checkpoints, result.records) == (1, 1, 3)


def test_a_deleted_checkpoint_is_named(trail, jobs):
    tamper("DELETE FROM audit_checkpoints WHERE sequence = 1")

    assert failure(jobs) == "checkpoint 1: missing (the next is checkpoint 2)"


def test_the_deleted_checkpoint_before_since_is_named(trail):
    tamper("DELETE FROM audit_checkpoints WHERE sequence = 1")

    assert audit_verify(since=2).failure == "checkpoint 1: missing"


def test_an_edited_checkpoint_is_named(trail, jobs):
    tamper("UPDATE audit_checkpoints SET record_count = 2 WHERE sequence = 1")

    assert failure(jobs) == (
        f"checkpoint 1: its signature does not match its content (key {our_key_id()})"
    )


def test_a_checkpoint_signed_with_another_key_is_named(trail, jobs):
    checkpoint = AuditCheckpoint.objects.get(sequence=2)
    checkpoint.key_id = key_id(OTHER_KEY.public_key())
    tamper(
        "UPDATE audit_checkpoints SET key_id = %s, signature = %s WHERE sequence = 2",
        [checkpoint.key_id, sign(OTHER_KEY, chain.checkpoint_body(checkpoint))],
    )

    assert failure(jobs) == (
        f"checkpoint 2: signed with another key ({checkpoint.key_id}, not {our_key_id()})"
    )


def test_a_trail_checked_with_another_public_key_fails_at_the_first_checkpoint(trail, tmp_path):
    public = base64.b64encode(public_key_raw(OTHER_KEY.public_key())).decode()
    (tmp_path / "other.pub").write_text(public)

    with pytest.raises(CommandError) as raised:
        call_command("verify_audit", "--public-key", str(tmp_path / "other.pub"))

    assert str(raised.value) == (
        "Audit log verification failed: checkpoint 1: signed with another key "
        f"({our_key_id()}, not {key_id(OTHER_KEY.public_key())})"
    )


def test_the_command_fails_naming_the_first_mismatch_and_keeps_it(trail, jobs):
    tamper("UPDATE audit_logs SET user_agent = 'forged' WHERE id = %s", [trail[4]])
    tamper("UPDATE audit_logs SET user_agent = 'forged' WHERE id = %s", [trail[2]])

    with pytest.raises(CommandError) as raised:
        call_command("verify_audit", "--jobs", str(jobs))

    message = f"record {trail[2]} (checkpoint 1): changed after it was sealed"
    assert str(raised.value) == f"Audit log verification failed: {message}"
    kept = AuditVerification.objects.get()
    assert (kept.ok, kept.through_sequence, kept.failure) == (False, None, message)


def test_since_verifies_from_a_checkpoint_or_a_time(trail, capsys):
    tamper("UPDATE audit_logs SET user_agent = 'forged' WHERE id = %s", [trail[0]])
    second = AuditCheckpoint.objects.get(sequence=2)

    call_command("verify_audit", "--since", "2")
    call_command("verify_audit", "--since", chain.utc_text(second.created_at))

    assert capsys.readouterr().out.count("Verified 1 checkpoints and 2 records") == 2
    with pytest.raises(CommandError, match="checkpoint 1"):
        call_command("verify_audit", "--since", "1")


def test_jobs_must_be_one_or_more():
    with pytest.raises(CommandError, match=r"--jobs: 0 is not a number of processes"):
        call_command("verify_audit", "--jobs", "0")


@pytest.mark.parametrize("since", ["0", "yesterday", "2026-01-02T00:00:00"])
def test_since_must_be_a_checkpoint_or_a_time_with_its_offset(since):
    with pytest.raises(CommandError, match=r"--since: .* is neither a checkpoint number"):
        call_command("verify_audit", "--since", since)


def test_records_not_sealed_yet_are_counted_not_failed(trail, capsys):
    SystemEventFactory()

    call_command("verify_audit")

    assert "1 record not sealed yet." in capsys.readouterr().out


def test_a_change_past_the_rows_read_at_once_is_named():
    # One checkpoint over more records than its range's rows received at a time.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_logs (user_id, changed_fields, operation, table_name, record_id,"
            " user_agent, request_id) SELECT 'system:test', jsonb_build_object('n', n), 'CREATE',"
            " 'system_events', n::text, '', '' FROM generate_series(1, %s) AS n",
            [chain.RANGE_CHUNK + 10],
        )
    assert len(seal_all()) == 1
    result = audit_verify()
    assert (result.ok, result.records) == (True, chain.RANGE_CHUNK + 10)
    last = AuditLog.objects.order_by("-id").first()

    tamper("UPDATE audit_logs SET changed_fields = '{\"n\": 0}' WHERE id = %s", [last.pk])

    assert failure() == f"record {last.pk} (checkpoint 1): changed after it was sealed"


def our_key_id():
    return key_id(signing_key().public_key())


@pytest.mark.parametrize("since", ["3", "99999999999999999999", "2999-01-01T00:00:00Z"])
def test_since_past_the_last_checkpoint_is_refused_not_failed(trail, since):
    last = AuditCheckpoint.objects.get(sequence=2)

    with pytest.raises(CommandError) as raised:
        call_command("verify_audit", "--since", since)

    assert str(raised.value) == (
        f"--since {since}: no checkpoint at or after it (the last is checkpoint 2, created "
        f"{last.created_at.isoformat()})."
    )
    assert not AuditVerification.objects.exists()


def test_since_with_no_checkpoint_yet_is_refused():
    with pytest.raises(CommandError, match=r"^--since 1: .* \(there is none yet\)\.$"):
        call_command("verify_audit", "--since", "1")
