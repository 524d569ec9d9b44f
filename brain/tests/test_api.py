import pytest
from django.core.cache import CacheHandler, cache
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from brain.api.authentication import token_cache_key
from brain.api.throttling import UserRateThrottle
from brain.models import APIToken
from brain.tokens import token_create, token_digest

pytestmark = pytest.mark.django_db


def test_api_requires_credentials(anon_client):
    response = anon_client.get("/api/auth/me")

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_bad_token_is_401(anon_client):
    anon_client.credentials(HTTP_AUTHORIZATION="Token not-a-token")

    response = anon_client.get("/api/auth/me")

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


def test_a_token_with_a_nul_character_is_401(anon_client):
    anon_client.credentials(HTTP_AUTHORIZATION="Token abc\x00def")

    response = anon_client.get("/api/auth/me")

    assert (response.status_code, response.json()) == (401, {"detail": "Invalid token."})


def test_obtain_token_refuses_a_body_nested_too_deeply(anon_client):
    body = "[" * 100_000 + "]" * 100_000

    response = anon_client.generic("POST", "/api/auth/token", body, content_type="application/json")

    assert (response.status_code, response.json()) == (
        400,
        {"detail": "JSON parse error - nested too deeply."},
    )


def test_obtain_token_with_username_and_password(anon_client, user):
    response = anon_client.post(
        "/api/auth/token", {"username": "alice", "password": "alice-password-1"}, format="json"
    )

    assert response.status_code == 200
    assert APIToken.objects.get(user=user).digest == token_digest(response.json()["token"])


def test_obtain_token_with_trailing_slash_is_not_redirected(anon_client, user):
    response = anon_client.post(
        "/api/auth/token/", {"username": "alice", "password": "alice-password-1"}, format="json"
    )

    assert response.status_code == 200
    assert APIToken.objects.get(user=user).digest == token_digest(response.json()["token"])


def test_obtain_token_with_wrong_password_is_400(anon_client, user):
    response = anon_client.post(
        "/api/auth/token", {"username": "alice", "password": "wrong"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}
    assert not APIToken.objects.exists()


def test_token_lookup_is_cached_and_revoked_when_the_token_is_deleted(
    user, django_assert_num_queries, django_capture_on_commit_callbacks
):
    key = token_create(user=user)
    token = APIToken.objects.get(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/auth/me").status_code == 200

    with django_assert_num_queries(0):
        assert client.get("/api/auth/me").json()["username"] == "alice"
    with django_capture_on_commit_callbacks(execute=True):
        token.delete()

    assert cache.get(token_cache_key(token_digest(key))) == 0  # revoked: no lookup cached
    response = client.get("/api/auth/me")
    assert (response.status_code, response.json()) == (401, {"detail": "Invalid token."})


def test_deactivated_user_is_refused_at_once(user, django_capture_on_commit_callbacks):
    key = token_create(user=user)
    api_client = APIClient()
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.get("/api/auth/me").status_code == 200  # the lookup is now cached
    user.is_active = False
    with django_capture_on_commit_callbacks(execute=True):
        user.save()

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get("/api/auth/me")

    assert response.status_code == 401
    assert response.json() == {"detail": "User inactive or deleted."}


def test_token_authentication_works(api_client, user):
    response = api_client.get("/api/auth/me")

    assert response.status_code == 200
    assert response.json() == {"id": user.pk, "username": "alice", "is_staff": False}


def test_session_authentication_works(client, user):
    client.force_login(user)

    response = client.get("/api/auth/me", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert response.json() == {"id": user.pk, "username": "alice", "is_staff": False}


@pytest.mark.parametrize("path", ["/api/auth/me", "/api/auth/me/"])
def test_paths_work_with_and_without_trailing_slash(api_client, path):
    response = api_client.get(path)

    assert response.status_code == 200
    assert response.json()["username"] == "alice"


def test_unknown_api_path_is_json_404(api_client):
    response = api_client.get("/api/no-such-thing")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_oversized_body_is_json_413(api_client, settings):
    settings.REQUEST_MAX_BODY_BYTES = 1000

    response = api_client.post("/api/auth/token", data="x" * 2000, content_type="application/json")

    assert response.status_code == 413
    assert response.json() == {"detail": "Request body too large: the limit is 1000 bytes."}


def test_password_guessing_is_throttled_with_json_429(anon_client, user, monkeypatch):
    monkeypatch.setattr(
        SimpleRateThrottle,
        "THROTTLE_RATES",
        {**SimpleRateThrottle.THROTTLE_RATES, "anon": "2/min", "user": "2/min"},
    )
    guess = {"username": "alice", "password": "guess"}
    for _ in range(2):
        assert anon_client.post("/api/auth/token", guess, format="json").status_code == 400

    response = anon_client.post("/api/auth/token", guess, format="json")

    assert response.status_code == 429
    assert response.json()["detail"].startswith("Request was throttled.")


def test_the_token_cache_holds_no_password_hash(api_client, user, django_assert_num_queries):
    api_client.get("/api/auth/me")

    redis = cache.client.get_client(write=True)
    stored = redis.get(cache.make_key(token_cache_key(APIToken.objects.get(user=user).digest)))
    assert stored is not None
    assert user.password.encode() not in stored
    with django_assert_num_queries(0):
        response = api_client.get("/api/auth/me")
    assert response.json() == {"id": user.pk, "username": "alice", "is_staff": False}


def test_user_rate_is_a_counter_per_window_in_redis(api_client, user, monkeypatch):
    monkeypatch.setattr(
        SimpleRateThrottle,
        "THROTTLE_RATES",
        {**SimpleRateThrottle.THROTTLE_RATES, "anon": "100/min", "user": "3/min"},
    )
    statuses = [api_client.get("/api/auth/me").status_code for _ in range(4)]

    response = api_client.get("/api/auth/me")

    assert statuses == [200, 200, 200, 429]
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    redis = cache.client.get_client(write=True)
    [counter] = redis.keys(f"brain:throttle_user_{user.pk}:w*")
    assert int(redis.get(counter)) == 5
    assert 0 < redis.ttl(counter) <= 60


def test_throttling_lets_requests_through_when_redis_is_down(api_client, monkeypatch, settings):
    monkeypatch.setattr(
        SimpleRateThrottle,
        "THROTTLE_RATES",
        {**SimpleRateThrottle.THROTTLE_RATES, "anon": "1/min", "user": "1/min"},
    )
    closed_port = {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}
    monkeypatch.setattr(
        UserRateThrottle, "cache", CacheHandler({"default": closed_port})["default"]
    )

    statuses = [api_client.get("/api/auth/me").status_code for _ in range(3)]

    assert statuses == [200, 200, 200]


def test_an_address_guessing_tokens_is_refused_before_the_lookup(
    user, monkeypatch, django_assert_num_queries
):
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "failed_token": "3/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    known = token_create(user=user)
    guesser, neighbour = APIClient(REMOTE_ADDR="10.0.0.1"), APIClient(REMOTE_ADDR="10.0.0.2")

    def me(client, key):
        return client.get("/api/auth/me", HTTP_AUTHORIZATION=f"Token {key}")

    assert me(guesser, known).status_code == 200  # now cached
    statuses = [me(guesser, f"{n:040x}").status_code for n in range(4)]
    with django_assert_num_queries(0):
        refused = me(guesser, "f" * 40)

    assert statuses == [401, 401, 401, 429]
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("Request was throttled.")
    assert 0 < int(refused["Retry-After"]) <= 60
    assert me(guesser, known).status_code == 200
    assert me(neighbour, "f" * 40).status_code == 401


def test_a_bad_filter_is_a_400_after_authentication(anon_client, api_client):
    assert anon_client.get("/api/events/stats?severity=loud").status_code == 401

    response = api_client.get("/api/events/stats?severity=loud")

    assert response.status_code == 400
    assert "severity" in response.json()
