"""One client address (brain.context.client_ip, from TRUSTED_PROXY_COUNT) for the rate limits, the
audit records and the request log."""

import logging

import pytest
from rest_framework.throttling import SimpleRateThrottle

from audit.models import AuditLog

pytestmark = pytest.mark.django_db

GUESS = {"username": "alice", "password": "guess"}


@pytest.fixture
def anon_rate_2(monkeypatch):
    monkeypatch.setattr(
        SimpleRateThrottle,
        "THROTTLE_RATES",
        {**SimpleRateThrottle.THROTTLE_RATES, "anon": "2/min", "user": "2/min"},
    )


def test_without_trusted_proxies_x_forwarded_for_does_not_get_round_the_rate_limit(
    anon_client, user, anon_rate_2
):
    statuses = [
        anon_client.post(
            "/api/auth/token", GUESS, format="json", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}"
        ).status_code
        for n in range(4)
    ]

    assert statuses == [400, 400, 429, 429]


def test_behind_one_proxy_the_address_it_saw_is_the_client_everywhere(
    api_client, user, anon_client, anon_rate_2, settings, caplog
):
    settings.TRUSTED_PROXY_COUNT = 1
    forwarded = "192.0.2.1, 203.0.113.7"  # the client wrote the first, the proxy the second

    with caplog.at_level(logging.INFO, logger="brain.request"):
        response = api_client.post(
            "/api/events",
            {"event_type": "deploy", "severity": "info", "message": "m"},
            HTTP_X_FORWARDED_FOR=forwarded,
        )

    assert response.status_code == 201
    assert AuditLog.objects.get(table_name="system_events").ip_address == "203.0.113.7"
    assert [record.client_ip for record in caplog.records if record.name == "brain.request"] == [
        "203.0.113.7"
    ]
    statuses = [
        anon_client.post(
            "/api/auth/token",
            GUESS,
            format="json",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.7",
        ).status_code
        for n in range(3)
    ]
    assert statuses == [400, 400, 429]  # one client, whatever it writes in front
