"""Every request's id is Brain's own (a client's X-Request-ID is logged apart, never taken),
except behind trusted proxies, whose X-Request-ID is kept."""

import logging
import re

import pytest

pytestmark = pytest.mark.django_db

SERVER_ID = re.compile(r"[0-9a-f]{32}")


def request_log(caplog):
    """(request_id, client_request_id) of each request log line."""
    return [
        (record.request_id, record.client_request_id)
        for record in caplog.records
        if record.name == "brain.request"
    ]


def test_a_clients_request_id_is_logged_apart_and_not_taken(anon_client, caplog):
    with caplog.at_level(logging.INFO, logger="brain.request"):
        response = anon_client.get("/health/live", HTTP_X_REQUEST_ID="abc-123")

    request_id = response["X-Request-ID"]
    assert SERVER_ID.fullmatch(request_id)
    assert request_log(caplog) == [(request_id, "abc-123")]


def test_every_request_gets_an_id_of_its_own(anon_client, caplog):
    with caplog.at_level(logging.INFO, logger="brain.request"):
        ids = [anon_client.get("/health/live")["X-Request-ID"] for _ in range(3)]

    assert len(set(ids)) == 3
    assert all(SERVER_ID.fullmatch(request_id) for request_id in ids)
    assert request_log(caplog) == [(request_id, None) for request_id in ids]


def test_behind_a_trusted_proxy_its_request_id_is_kept(anon_client, settings, caplog):
    settings.TRUSTED_PROXY_COUNT = 1

    with caplog.at_level(logging.INFO, logger="brain.request"):
        response = anon_client.get(
            "/health/live",
            HTTP_X_REQUEST_ID="7f3a9c0e-proxy",
            HTTP_X_FORWARDED_FOR="192.0.2.1",
        )

    assert response["X-Request-ID"] == "7f3a9c0e-proxy"
    assert request_log(caplog) == [("7f3a9c0e-proxy", None)]


@pytest.mark.parametrize("given", ["x" * 65, "line\nbreak"])
def test_a_proxys_request_id_that_is_too_long_or_unprintable_is_replaced(
    anon_client, settings, given
):
    settings.TRUSTED_PROXY_COUNT = 1

    response = anon_client.get("/health/live", HTTP_X_REQUEST_ID=given)

    assert SERVER_ID.fullmatch(response["X-Request-ID"])
