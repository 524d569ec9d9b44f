"""Failed logins are limited per username from a client address and per client address (for any
username), with one set of counters for the admin's login and `POST /api/auth/token`; a
successful login clears its username's failures from its address."""

import json
import logging

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from brain.models import APIToken

pytestmark = pytest.mark.django_db

API_REFUSAL = "Too many failed logins for this username or from this address."
ADMIN_REFUSAL = "Too many failed logins for this username or from your address. Try again in"
ADMIN_INVALID = "Please enter the correct username and password for a staff account."


def api_login(username, password, address):
    return APIClient(REMOTE_ADDR=address).post(
        "/api/auth/token", {"username": username, "password": password}, format="json"
    )


def admin_login(username, password, address):
    return Client(REMOTE_ADDR=address).post(
        "/admin/login/", {"username": username, "password": password, "next": "/admin/"}
    )


def failure_counters():
    """The failed-login counters in Redis, as Redis names them."""
    client = cache.client.get_client(write=True)
    return sorted(key.decode() for key in client.keys("brain:login-failures:*"))


@pytest.fixture
def limits(settings):
    """Sets the two rates (per day: no test straddles a window's end but at midnight UTC)."""

    def set_limits(*, username=1000, address=1000):
        settings.THROTTLE_RATE_FAILED_LOGIN_USERNAME_ADDRESS = f"{username}/day"
        settings.THROTTLE_RATE_FAILED_LOGIN_ADDRESS = f"{address}/day"

    return set_limits


def test_a_username_past_its_failures_from_an_address_is_refused_there_only(
    user, other_user, limits
):
    limits(username=3)

    statuses = [api_login("alice", "guess", "198.51.100.1").status_code for _ in range(3)]
    refused = api_login("alice", "alice-password-1", "198.51.100.1")

    assert statuses == [400, 400, 400]
    assert refused.status_code == 429
    retry_after = int(refused["Retry-After"])
    assert 0 < retry_after <= 86400
    assert refused.json() == {
        "detail": f"{API_REFUSAL} Expected available in {retry_after} seconds."
    }
    assert api_login(" ALICE", "alice-password-1", "198.51.100.1").status_code == 429
    assert not APIToken.objects.exists()
    # Nobody locks alice out from elsewhere, and bob logs in from the same address.
    assert api_login("alice", "alice-password-1", "203.0.113.9").status_code == 200
    assert api_login("bob", "bob-password-1", "198.51.100.1").status_code == 200


def test_failures_at_a_username_from_many_addresses_each_count_apart(user, limits):
    limits(username=2)

    statuses = [api_login("alice", "guess", f"198.51.100.{n}").status_code for n in range(5)]

    assert statuses == [400] * 5
    assert api_login("alice", "alice-password-1", "198.51.100.0").status_code == 200


def test_an_address_spraying_usernames_is_refused_for_every_username(user, limits):
    limits(address=3)

    statuses = [
        api_login(name, "Summer2024!", "198.51.100.1").status_code
        for name in ("carol", "dave", "erin")
    ]
    refused = api_login("alice", "alice-password-1", "198.51.100.1")

    assert statuses == [400, 400, 400]
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith(API_REFUSAL)
    assert not APIToken.objects.exists()
    # The same user from another address is not affected.
    assert api_login("alice", "alice-password-1", "198.51.100.2").status_code == 200


def test_six_successful_logins_within_a_minute_all_succeed(user, staff_user, settings):
    settings.THROTTLE_RATE_FAILED_LOGIN_USERNAME_ADDRESS = "5/min"
    settings.THROTTLE_RATE_FAILED_LOGIN_ADDRESS = "5/min"

    api = [api_login("alice", "alice-password-1", "198.51.100.1").status_code for _ in range(6)]
    admin = [admin_login("staff", "staff-password-1", "198.51.100.1") for _ in range(6)]

    assert api == [200] * 6
    assert [page.status_code for page in admin] == [302] * 6
    assert all(page["Location"] == "/admin/" for page in admin)
    assert failure_counters() == []


def test_a_success_clears_its_usernames_failures_from_its_address(user, limits):
    limits(username=2, address=1000)

    first_failure = api_login("alice", "wrong", "198.51.100.1")
    success = api_login("alice", "alice-password-1", "198.51.100.1")
    again = [api_login("alice", "wrong", "198.51.100.1").status_code for _ in range(2)]
    refused = api_login("alice", "alice-password-1", "198.51.100.1")

    assert (first_failure.status_code, success.status_code) == (400, 200)
    assert again == [400, 400]  # two more failures allowed: the first was cleared
    assert refused.status_code == 429


def test_a_success_at_the_admin_clears_its_usernames_failures_at_the_api(staff_user, limits):
    limits(username=2)

    api_login("staff", "guess", "198.51.100.1")
    logged_in = admin_login("staff", "staff-password-1", "198.51.100.1")
    statuses = [api_login("staff", "guess", "198.51.100.1").status_code for _ in range(2)]

    assert logged_in.status_code == 302
    assert statuses == [400, 400]
    assert api_login("staff", "staff-password-1", "198.51.100.1").status_code == 429


def test_a_success_leaves_the_addresss_spray_count(user, limits):
    limits(address=3)

    sprayed = [
        api_login(name, "Summer2024!", "198.51.100.1").status_code for name in ("carol", "dave")
    ]
    success = api_login("alice", "alice-password-1", "198.51.100.1")
    third = api_login("erin", "Summer2024!", "198.51.100.1")

    assert sprayed == [400, 400]
    assert success.status_code == 200
    assert third.status_code == 400
    assert api_login("alice", "alice-password-1", "198.51.100.1").status_code == 429


def test_failures_at_the_admin_count_at_the_api(staff_user, limits):
    limits(username=3)

    pages = [admin_login("staff", "guess", "198.51.100.1") for _ in range(2)]
    api_failure = api_login("staff", "guess", "198.51.100.1")
    refused = api_login("staff", "staff-password-1", "198.51.100.1")
    admin_refused = admin_login("staff", "staff-password-1", "198.51.100.1")

    assert [page.status_code for page in pages] == [200, 200]
    assert all(ADMIN_INVALID in page.content.decode() for page in pages)
    assert api_failure.status_code == 400
    assert refused.status_code == 429
    assert admin_refused.status_code == 200  # the form again, with the message; not logged in
    assert ADMIN_REFUSAL in admin_refused.content.decode()
    assert "_auth_user_id" not in admin_refused.wsgi_request.session


def test_failures_at_the_api_count_at_the_admin(staff_user, limits):
    limits(username=3)

    statuses = [api_login("staff", "guess", "198.51.100.1").status_code for _ in range(3)]
    refused = admin_login("staff", "staff-password-1", "198.51.100.1")

    assert statuses == [400, 400, 400]
    assert refused.status_code == 200
    assert ADMIN_REFUSAL in refused.content.decode()
    assert "_auth_user_id" not in refused.wsgi_request.session


def test_an_address_spraying_the_admin_is_refused_at_the_api(user, staff_user, limits):
    limits(address=2)

    admin_login("carol", "guess", "198.51.100.1")
    admin_login("dave", "guess", "198.51.100.1")

    assert api_login("alice", "alice-password-1", "198.51.100.1").status_code == 429
    admin_refused = admin_login("staff", "staff-password-1", "198.51.100.1")
    assert ADMIN_REFUSAL in admin_refused.content.decode()
    assert admin_login("staff", "staff-password-1", "198.51.100.2").status_code == 302


def test_the_admin_counts_a_user_it_does_not_let_in(user, limits):
    limits(username=1)

    not_staff = admin_login("alice", "alice-password-1", "198.51.100.1")

    assert ADMIN_INVALID in not_staff.content.decode()
    assert api_login("alice", "alice-password-1", "198.51.100.1").status_code == 429


def test_a_request_that_checks_no_password_counts_nothing(user, limits):
    limits(username=1, address=1)

    missing = APIClient().post("/api/auth/token", {"username": "alice"}, format="json")
    wrong_type = APIClient().post(
        "/api/auth/token", {"username": 1, "password": "guess"}, format="json"
    )

    assert (missing.status_code, missing.json()) == (400, {"password": ["This field is required."]})
    assert wrong_type.status_code == 400
    assert failure_counters() == []
    assert api_login("alice", "alice-password-1", "127.0.0.1").status_code == 200


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("\ud800", "Surrogate characters are not allowed: U+D800."),
        ("alice\x00", "Null characters are not allowed."),
    ],
)
def test_a_username_postgresql_cannot_store_is_a_400_naming_it(user, username, message):
    body = json.dumps({"username": username, "password": "guess"})  # \ud800 as an escape

    response = APIClient().post("/api/auth/token", body, content_type="application/json")

    assert (response.status_code, response.json()) == (400, {"username": [message]})
    assert failure_counters() == []
    assert not APIToken.objects.exists()


def test_failures_are_counters_that_expire_with_their_window(user, limits):
    limits(username=5, address=5)

    api_login("alice", "guess", "198.51.100.1")
    admin_login("alice", "guess", "198.51.100.1")

    client = cache.client.get_client(write=True)
    counters = failure_counters()
    assert [key.split(":")[2] for key in counters] == ["address", "username-address"]
    assert counters[0].startswith("brain:login-failures:address:198.51.100.1:w")
    assert counters[1].startswith("brain:login-failures:username-address:198.51.100.1:")
    assert "alice" not in counters[1]  # the username is kept as its SHA-256
    assert [int(client.get(key)) for key in counters] == [2, 2]
    assert all(0 < client.ttl(key) <= 86400 for key in counters)


def test_with_the_cache_unreachable_logins_are_checked_and_not_limited(
    user, limits, settings, caplog
):
    limits(username=1, address=1)
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}
    }

    with caplog.at_level(logging.WARNING, logger="brain.login_failures"):
        failures = [api_login("alice", "guess", "198.51.100.1").status_code for _ in range(3)]
        success = api_login("alice", "alice-password-1", "198.51.100.1")

    assert failures == [400, 400, 400]
    assert success.status_code == 200
    uncounted = [
        record.limit
        for record in caplog.records
        if record.getMessage() == "failed login not counted: the cache is unreachable"
    ]
    assert uncounted == ["address", "username-address"] * 3
