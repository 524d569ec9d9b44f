"""Read-ahead: a request's token lookup, rate-limit counter and cached body come from
Redis in one round trip, and every answer stays what it would be without it."""

import pytest
from django.core.cache import cache
from redis.connection import AbstractConnection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from brain.api.authentication import token_digest
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
    """The values of the rate-limit counters of `user`'s token."""
    redis = cache.client.get_client(write=True)
    pattern = f"brain:throttle_user_token-{token_digest(user.auth_token.key)}:w*"
    return {int(redis.get(key)) for key in redis.keys(pattern)}


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


def test_a_token_s_counter_is_counted_ahead_within_its_window(api_client, user):
    api_client.get("/api/auth/me")  # caches the token's lookup

    api_client.get("/api/auth/me")

    redis = cache.client.get_client(write=True)
    [counter] = redis.keys(f"brain:throttle_user_token-{token_digest(user.auth_token.key)}:w*")
    assert int(redis.get(counter)) == 2
    assert 0 < redis.ttl(counter) <= 60


def test_an_unknown_token_makes_no_counter(anon_client):
    anon_client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)

    response = anon_client.get("/api/auth/me")

    assert response.status_code == 401
    assert cache.client.get_client(write=True).keys("brain:throttle_user_*") == []


def test_reading_ahead_works_after_redis_forgets_the_script(api_client, user):
    api_client.get("/api/auth/me")
    cache.client.get_client(write=True).script_flush()  # as after a Redis restart

    response = api_client.get("/api/auth/me")

    assert response.status_code == 200
    assert user_counters(user) == {2}


def test_requests_read_ahead_are_still_counted_and_throttled(api_client, user, monkeypatch):
    monkeypatch.setattr(
        SimpleRateThrottle,
        "THROTTLE_RATES",
        {**SimpleRateThrottle.THROTTLE_RATES, "anon": "100/min", "user": "3/min"},
    )

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
