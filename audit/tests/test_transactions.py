"""A change and its record commit or roll back together, inside a transaction or in autocommit."""

import pytest
from django.db import IntegrityError, connection, transaction

from audit.models import AuditLog
from events.models import SystemEvent

from .factories import SystemEventFactory

REFUSE_UPDATE_RECORDS = (
    "ALTER TABLE audit_logs ADD CONSTRAINT test_refuse_update CHECK (operation <> 'UPDATE')"
)


@pytest.mark.django_db
def test_a_rolled_back_change_leaves_no_record():
    event = SystemEvent.objects.get(pk=SystemEventFactory(message="kept").pk)
    records_before = AuditLog.objects.count()

    with pytest.raises(RuntimeError), transaction.atomic():
        event.message = "discarded"
        event.save()
        SystemEvent.objects.filter(pk=event.pk).update(severity="error")
        raise RuntimeError

    assert AuditLog.objects.count() == records_before
    assert SystemEvent.objects.get(pk=event.pk).message == "kept"


@pytest.mark.django_db
def test_a_failed_record_rolls_the_change_back():
    event = SystemEvent.objects.get(pk=SystemEventFactory(message="kept").pk)
    with connection.cursor() as cursor:
        cursor.execute(REFUSE_UPDATE_RECORDS)  # dropped with the test's transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        event.message = "lost"
        event.save()

    assert SystemEvent.objects.get(pk=event.pk).message == "kept"


@pytest.mark.django_db(transaction=True)
def test_in_autocommit_a_failed_record_rolls_the_change_back():
    event = SystemEvent.objects.get(pk=SystemEventFactory(message="kept").pk)
    with connection.cursor() as cursor:
        cursor.execute(REFUSE_UPDATE_RECORDS)
    try:
        event.message = "lost"
        with pytest.raises(IntegrityError):
            event.save()
        with pytest.raises(IntegrityError):
            SystemEvent.objects.filter(pk=event.pk).update(message="lost too")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE audit_logs DROP CONSTRAINT test_refuse_update")

    assert SystemEvent.objects.get(pk=event.pk).message == "kept"
    assert list(AuditLog.objects.values_list("operation", flat=True)) == ["CREATE"]


@pytest.mark.django_db(transaction=True)
def test_in_autocommit_a_change_and_its_record_commit_together():
    event = SystemEvent.objects.get(pk=SystemEventFactory(message="a").pk)

    event.message = "b"
    event.save()

    assert list(AuditLog.objects.order_by("id").values_list("operation", flat=True)) == [
        "CREATE",
        "UPDATE",
    ]


@pytest.mark.django_db(transaction=True)
def test_a_statement_sent_through_the_psycopg_cursor_rolls_back_with_its_block():
    with pytest.raises(RuntimeError), transaction.atomic():
        with connection.cursor() as cursor:
            # The driver's own cursor, as COPY helpers and libraries use it: first in the block.
            cursor.cursor.execute(
                "INSERT INTO system_events (event_type, severity, message, timestamp, created_at)"
                " VALUES ('raw', 'info', 'raw insert', now(), now())"
            )
        raise RuntimeError

    assert not SystemEvent.objects.filter(event_type="raw").exists()


@pytest.mark.django_db
def test_an_audit_insert_that_fails_is_raised_by_the_save_that_caused_it():
    event = SystemEvent.objects.get(pk=SystemEventFactory(message="kept").pk)
    with connection.cursor() as cursor:
        cursor.execute(REFUSE_UPDATE_RECORDS)  # dropped with the test's transaction
    event.message = "lost"

    with transaction.atomic():
        with pytest.raises(IntegrityError, match="test_refuse_update"):
            with transaction.atomic():
                event.save()
        # The failed save's block is rolled back to its savepoint; the outer one goes on.
        SystemEventFactory(message="after")

    assert SystemEvent.objects.get(pk=event.pk).message == "kept"
    assert SystemEvent.objects.filter(message="after").exists()
