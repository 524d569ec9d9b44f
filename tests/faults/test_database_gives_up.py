"""PostgreSQL up but giving up on a request: a request stuck behind another transaction's lock is
cancelled at the statement timeout and answered 503 with a short Retry-After, changing nothing;
the same request succeeds once the lock is gone."""

import psycopg
import pytest

from audit.models import AuditLog
from brain.tokens import token_create
from events.models import SystemEvent
from events.services import event_create

from .conftest import database_url

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_request_behind_a_lock_is_a_503_to_retry_and_changes_nothing(serve, staff_user):
    token = {"Authorization": f"Token {token_create(user=staff_user)}"}
    event = event_create(event_type="deploy", severity="info", message="v1")
    server = serve(DATABASE_STATEMENT_TIMEOUT="0.5")
    path = f"/api/events/{event.pk}"

    with psycopg.connect(database_url()) as locker:
        locker.execute("SELECT id FROM system_events WHERE id = %s FOR UPDATE", [event.pk])
        reply = server.request("PATCH", path, {"severity": "error"}, token)

        assert reply.status == 503
        assert reply.json()["detail"].startswith("The database gave up on this request")
        assert reply.headers["retry-after"] == "1"
        assert 0.5 <= reply.seconds < 5
    assert SystemEvent.objects.get(pk=event.pk).severity == "info"
    assert not AuditLog.objects.filter(record_id=str(event.pk), operation="UPDATE").exists()
    assert "QueryCanceled" in server.log()

    reply = server.request("PATCH", path, {"severity": "error"}, token)

    assert reply.status == 200, reply.body
    assert SystemEvent.objects.get(pk=event.pk).severity == "error"
