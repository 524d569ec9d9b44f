"""On PostgreSQL the audit log refuses UPDATE, DELETE and TRUNCATE; purge_audit is the one way
to delete (test_purge.py)."""

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from audit.models import AuditLog
from audit.purge import allow_purge

from .factories import SystemEventFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_logs SET user_id = 'someone else'",
        "DELETE FROM audit_logs",
        "TRUNCATE audit_logs",
    ],
)
def test_raw_changes_to_the_log_are_refused(statement):
    SystemEventFactory()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(statement)

    assert AuditLog.objects.get().user_id is None


def test_orm_delete_of_a_record_is_refused():
    SystemEventFactory()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditLog.objects.all().delete()

    assert AuditLog.objects.count() == 1


def test_update_is_refused_even_with_the_purge_flag():
    SystemEventFactory()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        allow_purge(connection)
        AuditLog.objects.update(user_id="x")


@pytest.mark.parametrize(
    "arguments",
    [
        ["--older-than", "1y"],
        ["--older-than", "0d"],
        ["--older-than", "99999999999d"],
        ["--older-than", "5d", "--batch-size", "0"],
        ["--older-than", "5d", "--batch-size", "99999999999999999999"],
    ],
)
def test_purge_rejects_bad_arguments(arguments):
    with pytest.raises(CommandError):
        call_command("purge_audit", *arguments)
