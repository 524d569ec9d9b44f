"""purge_audit seals first, deletes whole checkpoints of old records and says what it removed in a
checkpoint of its own: the trail still verifies, and tampering after a purge is still found."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.models import AuditCheckpoint, AuditLog
from audit.verification import audit_verify

from .factories import SystemEventFactory
from .trail import seal_all, tamper

pytestmark = pytest.mark.django_db(transaction=True)


def old_record(days=400, record_id="1"):
    """A record written `days` ago (the table takes INSERTs: it is written that way)."""
    return AuditLog.objects.create(
        timestamp=timezone.now() - timedelta(days=days),
        operation="CREATE",
        table_name="system_events",
        record_id=record_id,
        changed_fields={"message": "old"},
    ).pk


def checkpoints():
    return list(
        AuditCheckpoint.objects.order_by("sequence").values_list(
            "sequence", "kind", "first_record_id", "last_record_id", "record_count"
        )
    )


def test_a_dry_run_counts_what_a_purge_would_delete_and_deletes_nothing(capsys):
    for _ in range(2):
        old_record()
    seal_all(max_records=1)
    old_record()  # not sealed yet: a purge seals it first, and deletes it too

    call_command("purge_audit", "--older-than", "365d", "--dry-run")

    assert capsys.readouterr().out == "Would delete 3 audit records older than 365d.\n"
    assert AuditLog.objects.count() == 3
    assert [kind for _, kind, *_ in checkpoints()] == ["seal", "seal", "seal"]
    call_command("purge_audit", "--older-than", "365d")
    assert capsys.readouterr().out == "Deleted 3 audit records older than 365d.\n"


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_purge_removes_old_checkpoints_in_batches_and_records_what_it_removed(capsys, jobs):
    old = [old_record() for _ in range(3)]
    seal_all(max_records=1)
    recent = SystemEventFactory().pk

    call_command("purge_audit", "--older-than", "365d", "--batch-size", "2")

    assert "Deleted 3 audit records older than 365d." in capsys.readouterr().out
    assert list(AuditLog.objects.values_list("record_id", flat=True)) == [str(recent)]
    recent_record = AuditLog.objects.get().pk
    assert checkpoints() == [
        (1, "seal", old[0], old[0], 1),
        (2, "seal", old[1], old[1], 1),
        (3, "seal", old[2], old[2], 1),
        (4, "seal", recent_record, recent_record, 1),
        (5, "purge", old[0], old[1], 2),
        (6, "purge", old[2], old[2], 1),
    ]
    purge = AuditCheckpoint.objects.get(sequence=6)
    assert purge.head_hash == AuditCheckpoint.objects.get(sequence=3).head_hash
    result = audit_verify(jobs=jobs)
    assert (result.ok, result.checkpoints, result.records) == (True, 6, 1)


@pytest.mark.parametrize("jobs", [1, 2])
def test_tampering_after_a_purge_is_still_found(jobs):
    old_record()
    seal_all()
    SystemEventFactory.create_batch(2)
    call_command("purge_audit", "--older-than", "365d")
    kept = list(AuditLog.objects.order_by("id").values_list("id", flat=True))
    assert len(kept) == 2

    tamper("UPDATE audit_logs SET user_agent = 'forged' WHERE id = %s", [kept[1]])

    failure = audit_verify(jobs=jobs).failure
    assert failure == f"record {kept[1]} (checkpoint 2): changed after it was sealed"


def test_a_record_put_back_into_a_purged_range_is_found():
    first = old_record()
    seal_all()
    SystemEventFactory()
    call_command("purge_audit", "--older-than", "365d")
    assert audit_verify().ok

    tamper(
        "INSERT INTO audit_logs (id, xid, user_id, changed_fields, operation, table_name,"
        " record_id, user_agent, request_id) VALUES (%s, %s::text::xid8, NULL, '{}', 'CREATE',"
        " 'system_events', '1', '', '')",
        [first, xid_of_purged(first)],
    )

    assert audit_verify().failure == f"record {first}: in the range purged by checkpoint 3"


def xid_of_purged(record_id):
    checkpoint = AuditCheckpoint.objects.get(kind="purge")
    assert checkpoint.first_record_id == record_id
    return checkpoint.first_xid


def test_a_checkpoint_holding_a_recent_record_is_kept_whole():
    old_record()
    SystemEventFactory()

    call_command("purge_audit", "--older-than", "365d")

    assert AuditLog.objects.count() == 2
    assert [kind for _, kind, *_ in checkpoints()] == ["seal"]


def test_a_purge_stops_at_a_range_that_does_not_match_its_checkpoint():
    old_record()
    second = old_record()
    seal_all(max_records=1)
    tamper("UPDATE audit_logs SET user_agent = 'forged' WHERE id = %s", [second])

    with pytest.raises(CommandError) as raised:
        call_command("purge_audit", "--older-than", "365d", "--batch-size", "1")

    assert str(raised.value) == (
        f"record {second} (checkpoint 2): changed after it was sealed: nothing more purged; "
        "run verify_audit"
    )
    assert list(AuditLog.objects.values_list("id", flat=True)) == [second]
    assert [kind for _, kind, *_ in checkpoints()] == ["seal", "seal", "purge"]


def test_a_purge_seals_what_was_not_sealed_yet_before_it_deletes(capsys):
    for _ in range(2):
        old_record()

    call_command("purge_audit", "--older-than", "365d")

    assert "Deleted 2 audit records older than 365d." in capsys.readouterr().out
    assert AuditLog.objects.count() == 0
    assert [kind for _, kind, *_ in checkpoints()] == ["seal", "purge"]
    assert audit_verify().ok
