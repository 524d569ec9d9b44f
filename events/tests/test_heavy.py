"""Heavy requests (bulk creates, filtered statistics) are limited per user: with
API_HEAVY_REQUESTS_PER_USER of them in flight, the user's next one is a 429 with Retry-After that
costs nothing, while other users' heavy requests and the user's light ones are served; a
finished request frees its slot, and with Redis down heavy requests are allowed."""

import json
import socket
import time
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache

from audit.models import AuditLog
from brain.api.heavy import SLOT_SECONDS, slot_key
from brain.tokens import token_create
from events.models import SystemEvent
from events.tests.factories import SystemEventFactory

from .conftest import redis_keys

pytestmark = pytest.mark.django_db

EVENT = {"event_type": "deploy", "severity": "info", "message": "m"}
TOO_MANY = {
    "detail": "Too many heavy requests: you already have 2 in progress (bulk ingest, filtered "
    "statistics). Send this one when one of them has finished. Expected available in 2 seconds."
}


def _hold(user, *numbers):
    """Takes these slots of `user`'s as heavy requests in flight would."""
    for number in numbers:
        cache.set(slot_key(user.pk, number), 1, SLOT_SECONDS)


def _slots():
    return redis_keys("brain:heavy:*")


@pytest.fixture
def limit_2(settings):
    settings.API_HEAVY_REQUESTS_PER_USER = 2


def test_with_every_slot_held_a_filtered_stats_is_429_and_computes_nothing(
    api_client, user, limit_2
):
    SystemEventFactory()
    _hold(user, 0, 1)

    response = api_client.get("/api/events/stats?severity=info")

    assert (response.status_code, response.json()) == (429, TOO_MANY)
    assert response["Retry-After"] == "2"
    assert redis_keys() == []  # no statistics computed, nor cached


def test_with_every_slot_held_a_bulk_is_429_and_stores_nothing(api_client, user, limit_2):
    _hold(user, 0, 1)
    records = list(AuditLog.objects.all())  # the token's CREATE

    bulk = api_client.post("/api/events/bulk", [EVENT], format="json")
    lines = api_client.generic(
        "POST", "/api/events/bulk", json.dumps(EVENT) + "\n", content_type="application/x-ndjson"
    )

    assert (bulk.status_code, bulk.json()) == (429, TOO_MANY)
    assert (lines.status_code, lines.json()) == (429, TOO_MANY)
    assert not SystemEvent.objects.exists()
    assert list(AuditLog.objects.all()) == records


def test_another_users_heavy_requests_and_the_users_light_ones_are_served(
    api_client, other_client, user, limit_2
):
    SystemEventFactory()
    _hold(user, 0, 1)

    others_stats = other_client.get("/api/events/stats?severity=info")
    others_bulk = other_client.post("/api/events/bulk", [EVENT], format="json")
    own_stats = api_client.get("/api/events/stats")
    own_create = api_client.post("/api/events", EVENT, format="json")

    assert (others_stats.status_code, others_stats.json()["total"]) == (200, 1)
    assert others_bulk.status_code == 201
    assert (own_stats.status_code, own_create.status_code) == (200, 201)
    assert SystemEvent.objects.count() == 3


def test_a_free_slot_is_taken_and_freed_when_the_request_ends(api_client, user, limit_2):
    _hold(user, 0)

    response = api_client.post("/api/events/bulk", [EVENT], format="json")

    assert response.status_code == 201
    assert _slots() == [f"brain:heavy:{user.pk}:0"]


def test_a_cached_filtered_stats_is_served_with_every_slot_held(api_client, user, limit_2):
    SystemEventFactory()
    first = api_client.get("/api/events/stats?severity=info")
    _hold(user, 0, 1)

    second = api_client.get("/api/events/stats?severity=info")

    assert (second.status_code, second.content) == (200, first.content)


def test_heavy_requests_are_allowed_with_redis_down(api_client, user, limit_2, redis_down):
    SystemEventFactory()

    stats = [api_client.get(f"/api/events/stats?source=s{n}").status_code for n in range(3)]
    bulks = [api_client.post("/api/events/bulk", [EVENT], format="json") for _ in range(3)]

    assert stats == [200, 200, 200]
    assert [response.status_code for response in bulks] == [201, 201, 201]
    assert SystemEvent.objects.count() == 4


def test_by_default_one_heavy_request_at_a_time(api_client, other_client, user):
    _hold(user, 0)

    own = api_client.post("/api/events/bulk", [EVENT], format="json")
    others = other_client.post("/api/events/bulk", [EVENT], format="json")

    assert (own.status_code, own.json()) == (
        429,
        {
            "detail": "Too many heavy requests: you already have 1 in progress (bulk ingest, "
            "filtered statistics). Send this one when one of them has finished. Expected "
            "available in 2 seconds."
        },
    )
    assert others.status_code == 201
    assert SystemEvent.objects.count() == 1


def test_no_limit_with_0(api_client, user, settings):
    settings.API_HEAVY_REQUESTS_PER_USER = 0
    _hold(user, 0, 1)

    response = api_client.post("/api/events/bulk", [EVENT], format="json")

    assert response.status_code == 201


class SlowUpload:
    """An NDJSON bulk whose body is sent in two parts over a raw socket: between them the request
    is in flight, its worker reading the body."""

    def __init__(self, url, token, body):
        self.address = urlsplit(url)
        self.body = body
        self.socket = socket.create_connection((self.address.hostname, self.address.port))
        head = (
            "POST /api/events/bulk HTTP/1.1\r\n"
            f"Host: {self.address.netloc}\r\n"
            f"Authorization: Token {token}\r\n"
            "Content-Type: application/x-ndjson\r\n"
            "Prefer: return=minimal\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        self.socket.sendall(head.encode() + body[:10])

    def finish(self):
        """Sends the rest of the body; the answer's status."""
        self.socket.sendall(self.body[10:])
        answer = b""
        while chunk := self.socket.recv(65536):
            answer += chunk
        self.socket.close()
        return int(answer.split(b" ", 2)[1])


def _wait_for_slots(count):
    deadline = time.monotonic() + 10
    while len(_slots()) < count:
        assert time.monotonic() < deadline, "the uploads never took their slots"
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
def test_requests_in_flight_hold_the_slots_until_they_end(live_server, user, other_user, settings):
    settings.API_HEAVY_REQUESTS_PER_USER = 2
    token = token_create(user=user)
    other = token_create(user=other_user)
    body = (json.dumps(EVENT) + "\n").encode()
    uploads = [SlowUpload(live_server.url, token, body) for _ in range(2)]
    _wait_for_slots(2)

    third = SlowUpload(live_server.url, token, body).finish()
    others = SlowUpload(live_server.url, other, body).finish()
    held = {key: cache.ttl(key.removeprefix("brain:")) for key in _slots()}

    assert (third, others) == (429, 201)
    assert sorted(held) == [f"brain:heavy:{user.pk}:0", f"brain:heavy:{user.pk}:1"]
    assert all(0 < ttl <= SLOT_SECONDS for ttl in held.values())
    assert [upload.finish() for upload in uploads] == [201, 201]
    assert _slots() == []
    assert SlowUpload(live_server.url, token, body).finish() == 201
    assert SystemEvent.objects.count() == 4
