"""Recording by hand (audit.services) and reading one row's trail."""

import pytest

from audit.selectors import audit_log_list_for_row
from audit.services import audit_log_create, audit_log_delete, audit_log_update
from brain.context import audit_actor

from .factories import SystemEventFactory

pytestmark = pytest.mark.django_db


def test_manual_records_carry_the_actor_and_redact_secrets(records):
    with audit_actor("system:import"):
        audit_log_create(table_name="legacy", record_id=7, values={"name": "a", "token": "t"})
        written = audit_log_update(
            table_name="legacy",
            record_id=7,
            old_values={"name": "a", "token": "t"},
            new_values={"name": "b", "token": "u"},
        )
        audit_log_delete(table_name="legacy", record_id=7, values={"name": "b"})

    assert written is True
    assert records() == [
        ("CREATE", "legacy", "7", {"name": "a", "token": "[redacted]"}),
        (
            "UPDATE",
            "legacy",
            "7",
            {
                "name": {"old": "a", "new": "b"},
                "token": {"old": "[redacted]", "new": "[redacted]"},
            },
        ),
        ("DELETE", "legacy", "7", {"name": "b"}),
    ]
    assert {log.user_id for log in audit_log_list_for_row(table_name="legacy", record_id=7)} == {
        "system:import"
    }


def test_manual_update_without_a_change_writes_nothing(records):
    assert (
        audit_log_update(table_name="legacy", record_id=1, old_values={"a": 1}, new_values={"a": 1})
        is False
    )
    assert records() == []


def test_audit_trail_is_newest_first_and_limited():
    event = SystemEventFactory(message="0")
    for n in range(1, 4):
        event.message = str(n)
        event.save()

    trail = audit_log_list_for_row(table_name="system_events", record_id=event.pk, limit=2)

    assert [log.changed_fields["message"]["new"] for log in trail] == ["3", "2"]
