import pytest

from audit.models import AuditLog


@pytest.fixture
def records():
    """The audit records written so far, oldest first, as comparable tuples."""

    def read(**filters):
        return [
            (log.operation, log.table_name, log.record_id, log.changed_fields)
            for log in AuditLog.objects.filter(**filters).order_by("id")
        ]

    return read
