"""Every write path of events reaches the live stream: the API (single, bulk, NDJSON), the admin,
ORM code, the management commands, the scheduler's health check, the purge and plain SQL, each
change once, with its operation."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from brain.tokens import token_create
from events.models import SystemEvent
from events.services import event_purge
from events.tests.factories import SystemEventFactory
from events.tests.stream_support import StreamClient, in_thread, run
from scheduling.skills import get_skill

pytestmark = pytest.mark.django_db(transaction=True)

NEW = {"event_type": "path", "severity": "info", "message": "m"}


def api(user, method, path, body, content_type="application/json"):
    client = Client(HTTP_AUTHORIZATION=f"Token {token_create(user=user)}")
    response = getattr(client, method)(path, body, content_type=content_type)
    assert response.status_code in {200, 201, 204}, response.content
    return response


def api_single(user, tmp_path):
    api(user, "post", "/api/events", NEW)


def api_bulk(user, tmp_path):
    api(user, "post", "/api/events/bulk", [NEW, NEW])


def api_ndjson(user, tmp_path):
    body = "\n".join(json.dumps(NEW) for _ in range(3))
    api(user, "post", "/api/events/bulk", body, content_type="application/x-ndjson")


def api_update_and_delete(user, tmp_path):
    event = SystemEvent.objects.get()
    api(user, "patch", f"/api/events/{event.id}", {"severity": "error"})
    api(user, "delete", f"/api/events/{event.id}", None)


def admin_delete(user, tmp_path):
    client = Client()
    client.force_login(user)
    event = SystemEvent.objects.get()
    response = client.post(f"/admin/events/systemevent/{event.id}/delete/", {"post": "yes"})
    assert response.status_code == 302


def orm(user, tmp_path):
    event = SystemEvent.objects.create(**NEW)
    SystemEvent.objects.filter(pk=event.pk).update(message="changed")
    SystemEvent.objects.filter(pk=event.pk).delete()


def import_events(user, tmp_path):
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(json.dumps(NEW) for _ in range(2)) + "\n")
    call_command("import_events", str(path), verbosity=0)


def seed_events(user, tmp_path):
    call_command("seed_events", count=5, seed=1, verbosity=0)


def scheduler_health_check(user, tmp_path):
    get_skill("system.health_check").function({})


def purge(user, tmp_path):
    SystemEvent.objects.update(timestamp=timezone.now() - timedelta(days=10))
    event_purge(older_than=timezone.now() - timedelta(days=1))


def plain_sql(user, tmp_path):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO system_events (event_type, severity, message) VALUES ('path', 'info', 'm')"
        )
        cursor.execute("DELETE FROM system_events WHERE event_type = 'path'")


@pytest.mark.parametrize(
    ("write", "existing", "ops"),
    [
        (api_single, 0, ["create"]),
        (api_bulk, 0, ["create", "create"]),
        (api_ndjson, 0, ["create"] * 3),
        (api_update_and_delete, 1, ["update", "delete"]),
        (admin_delete, 1, ["delete"]),
        (orm, 0, ["create", "update", "delete"]),
        (import_events, 0, ["create", "create"]),
        (seed_events, 0, ["create"] * 5),
        (scheduler_health_check, 0, ["create"]),
        (purge, 2, ["update", "update", "delete", "delete"]),
        (plain_sql, 0, ["create", "delete"]),
    ],
)
def test_each_write_path_is_streamed_once_with_its_operation(
    write, existing, ops, superuser, tmp_path, keep_partitions
):
    for _ in range(existing):
        SystemEventFactory()
    token = token_create(user=superuser)

    async def scenario():
        client = StreamClient(token=token)
        assert (await client.connect())[0]
        start = (await client.receive())["position"]
        await in_thread(write, superuser, tmp_path)
        marker = await in_thread(SystemEventFactory, event_type="marker")
        messages = await client.events(len(ops) + 1)
        await client.close()
        *changes, last = messages
        assert [m["op"] for m in changes] == ops
        assert [m["position"] for m in messages] == list(range(start + 1, start + len(ops) + 2))
        assert last["event"]["id"] == marker.id  # nothing else came before it

    run(scenario)
