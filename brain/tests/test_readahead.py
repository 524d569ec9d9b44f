"""brain.api.readahead: a request's token lookup, rate-limit counter and cached body come from
Redis in one round trip, and every answer stays what it would be without it."""

import pytest
from django.core.cache import cache
from redis.connection import AbstractConnection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from brain.api import readahead
from events.models import SystemEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_round_trips(monkeypatch):
    """Counts the requests sent to Redis."""
    sent = []
    send = AbstractConnection.send_packed_command

    def counting(connection, command, *args, **kwargs):
        sent.append(command)
        return send(connection, command, *args, **kwargs)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
    return sent


@pytest.fixture
def event():
    return SystemEvent.objects.create(event_type="deploy", severity="info", message="v1 out")


def user_counters(user):
    redis = cache.client.get_client(write=True)
    return {int(redis.get(key)) for key in redis.keys(f"brain:throttle_user_{user.pk}:w*")}


def test_a_cached_event_is_answered_in_one_redis_round_trip(api_client, event, redis_round_trips):
    first = api_client.get(f"/api/events/{event.pk}")  # caches the token and the body
    redis_round_trips.clear()

    response = api_client.get(f"/api/events/{event.pk}")

    assert response.status_code == 200
    assert response.content == first.content
    assert len(redis_round_trips) == 1


@pytest.mark.parametrize("path", ["/api/events/stats", "/api/events/type/deploy", "/api/auth/me"])
def test_cached_stats_a_type_page_and_the_current_user_take_one_round_trip(
    api_client, event, redis_round_trips, path
):
    first = api_client.get(path)
    redis_round_trips.clear()

    response = api_client.get(path)

    assert response.status_code == 200
    assert response.content == first.content
    assert len(redis_round_trips) == 1


def test_fetch_reads_the_keys_and_counts_the_counters_with_their_ttl():
    cache.set("present", {"a": 1}, 60)
    cache.set("counted", 4, 60)

    found = readahead.fetch(["present", "absent"], [("counted", 60), ("new", 30)])

    assert found.get_many(["present", "absent"]) == {"present": {"a": 1}}
    assert found.get_many(["present", "unread"]) is None
    assert (found.take_count("counted"), found.take_count("new")) == (5, 1)
    assert found.take_count("new") is None  # taken once
    assert 0 < cache.ttl("new") <= 30
    assert 30 < cache.ttl("counted") <= 60  # an existing counter keeps its window


def test_fetch_with_counters_only_or_keys_only():
    assert readahead.fetch([], [("counted", 60)]).take_count("counted") == 1
    assert readahead.fetch(["counted"], []).get_many(["counted"]) == {"counted": 1}
    assert readahead.fetch([], []) is readahead.NOTHING


def test_fetch_works_after_redis_forgets_the_script():
    cache.set("present", 1, 60)
    readahead.fetch(["present"], [])
    cache.client.get_client(write=True).script_flush()  # as after a Redis restart

    found = readahead.fetch(["present"], [("counted", 60)])

    assert found.get_many(["present"]) == {"present": 1}
    assert found.take_count("counted") == 1


def test_requests_read_ahead_are_still_counted_and_throttled(api_client, user, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "100/min", "user": "3/min"})

    statuses = [api_client.get("/api/events/stats").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    assert user_counters(user) == {4}


def test_a_deleted_token_is_refused_although_this_process_has_seen_it(
    api_client, user, django_capture_on_commit_callbacks
):
    assert api_client.get("/api/auth/me").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        Token.objects.filter(user=user).delete()

    assert api_client.get("/api/auth/me").status_code == 401


def test_a_token_given_to_another_user_is_counted_for_that_user(
    api_client, user, other_user, django_capture_on_commit_callbacks
):
    api_client.get("/api/auth/me")  # this process now takes the token for `user`'s
    with django_capture_on_commit_callbacks(execute=True):
        Token.objects.filter(user=user).update(user=other_user)
        cache.clear()

    response = api_client.get("/api/auth/me")

    assert response.json()["username"] == "bob"
    assert user_counters(other_user) == {1}


def test_a_bad_filter_is_a_400_after_authentication(anon_client, api_client):
    assert anon_client.get("/api/events/stats?severity=loud").status_code == 401

    response = api_client.get("/api/events/stats?severity=loud")

    assert response.status_code == 400
    assert "severity" in response.json()


def test_with_redis_down_nothing_is_read_ahead_and_every_answer_comes_from_postgresql(
    event, user, settings
):
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}
    }
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

    responses = [client.get(f"/api/events/{event.pk}") for _ in range(2)]

    assert [response.status_code for response in responses] == [200, 200]
    assert responses[1].json()["message"] == "v1 out"
