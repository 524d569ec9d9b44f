"""Reads of the audit log: the system actors that wrote records."""

import pytest

from audit.models import AuditLog
from audit.selectors import audit_system_actors

pytestmark = pytest.mark.django_db


def record(user_id):
    AuditLog.objects.create(
        user_id=user_id, operation="CREATE", table_name="projects", record_id="1"
    )


def test_system_actors_are_the_distinct_system_user_ids_sorted(django_assert_num_queries):
    for user_id in ["system:seed", "7", "system:health", None, "system:seed", "12", "systemic"]:
        record(user_id)

    with django_assert_num_queries(3):  # one per actor, and the one that finds no other
        actors = audit_system_actors(limit=10)

    assert actors == ["system:health", "system:seed"]


def test_system_actors_stop_at_the_limit():
    for user_id in ["system:c", "system:a", "system:b"]:
        record(user_id)

    assert audit_system_actors(limit=2) == ["system:a", "system:b"]
    assert audit_system_actors(limit=0) == []
