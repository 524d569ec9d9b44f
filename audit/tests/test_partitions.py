"""audit_logs is partitioned by month: purge_audit drops a whole expired partition in one batch,
with one audit record for it and a purge checkpoint saying what went, and the log still
verifies; a partition is never dropped with a record that is not sealed or not old enough."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from audit.models import AuditCheckpoint, AuditLog
from audit.purge import audit_purge
from audit.verification import audit_verify
from brain import partitions

from .factories import SystemEventFactory
from .test_purge import old_record
from .trail import seal_all

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def partition_for():
    """Creates the partition of audit_logs for a moment's month (dropped after the test, as
    the database outlives a transactional test)."""
    created = []

    def create(moment):
        with transaction.atomic(), connection.cursor() as cursor:
            name = partitions.partition_create(
                cursor, "audit_logs", "timestamp", "month", partitions.period_start("month", moment)
            )
        created.append(name)
        return name

    yield create
    with connection.cursor() as cursor:
        for name in created:
            cursor.execute(f"DROP TABLE IF EXISTS {name}")


def partition_names():
    with connection.cursor() as cursor:
        return {partition.name for partition in partitions.partitions(cursor, "audit_logs")}


def test_purge_audit_drops_an_expired_partition_with_one_record_and_still_verifies(
    partition_for, capsys
):
    expired = partition_for(timezone.now() - timedelta(days=500))
    dropped = [old_record(days=500, record_id=str(n)) for n in range(3)]
    trimmed = old_record(days=400, record_id="3")  # in the default partition
    seal_all(max_records=2)
    recent = SystemEventFactory().pk

    call_command("purge_audit", "--older-than", "365d")

    assert "Deleted 4 audit records older than 365d." in capsys.readouterr().out
    assert expired not in partition_names()
    assert not AuditLog.objects.filter(pk__in=[*dropped, trimmed]).exists()
    assert list(AuditLog.objects.order_by("id").values_list("table_name", "record_id")) == [
        ("system_events", str(recent)),
        ("audit_logs", expired),
    ]
    partition_record = AuditLog.objects.get(table_name="audit_logs")
    assert partition_record.operation == "DELETE"
    assert partition_record.user_id == "system:purge_audit"
    assert partition_record.changed_fields["rows"] == 3
    purge = AuditCheckpoint.objects.filter(kind="purge").get()
    assert (purge.first_record_id, purge.last_record_id, purge.record_count) == (
        dropped[0],
        trimmed,
        4,
    )
    assert audit_verify().ok
    seal_all()
    assert audit_verify().ok


def test_a_partition_holding_a_record_sealed_with_newer_ones_is_not_dropped(partition_for):
    expired = partition_for(timezone.now() - timedelta(days=500))
    SystemEventFactory()  # a recent record, sealed in the same checkpoint as the old one
    old = old_record(days=500)
    seal_all()

    assert audit_purge(older_than=timedelta(days=365)) == 0

    assert expired in partition_names()
    assert AuditLog.objects.filter(pk=old).exists()
    assert audit_verify().ok


def test_an_empty_expired_partition_is_dropped_with_its_record(partition_for):
    expired = partition_for(timezone.now() - timedelta(days=500))
    kept = SystemEventFactory().pk

    assert audit_purge(older_than=timedelta(days=365)) == 0

    assert expired not in partition_names()
    record = AuditLog.objects.get(table_name="audit_logs")
    assert (record.record_id, record.changed_fields["rows"]) == (expired, 0)
    assert AuditLog.objects.filter(record_id=str(kept)).exists()
    assert audit_verify().ok


def test_the_append_only_rule_holds_on_every_partition(partition_for):
    partition_for(timezone.now() - timedelta(days=500))
    old = old_record(days=500)

    with pytest.raises(Exception, match="append-only"):
        AuditLog.objects.filter(pk=old).delete()
    with pytest.raises(Exception, match="append-only"):
        AuditLog.objects.filter(pk=old).update(user_agent="forged")

    assert AuditLog.objects.filter(pk=old).exists()


def test_the_scheduled_retention_drops_expired_partitions_and_keeps_the_partial_month(
    partition_for, settings, capsys
):
    settings.AUDIT_RETENTION_DAYS = 365
    now = timezone.now()
    cutoff = now - timedelta(days=365)
    expired = partition_for(now - timedelta(days=500))
    partial = partition_for(cutoff)
    dropped = [old_record(days=500, record_id=str(n)) for n in range(2)]
    seal_all()
    start = partitions.period_start("month", cutoff)
    past_retention = old_record(days=(now - (start + (cutoff - start) / 2)) / timedelta(days=1))
    seal_all()

    call_command("partitions")

    assert "dropped 2 rows of audit_logs older than 365 days" in capsys.readouterr().out
    assert expired not in partition_names() and partial in partition_names()
    assert not AuditLog.objects.filter(pk__in=dropped).exists()
    # Past the retention, sealed, but in a month not wholly past it: kept, whereas purge_audit
    # would delete it.
    assert AuditLog.objects.filter(pk=past_retention).exists()
    assert audit_verify().ok
