"""API reads run with API_READ_STATEMENT_TIMEOUT: a read PostgreSQL cancels is a logged JSON 503
with Retry-After, the timeout never stays on a pooled connection, and writes keep the database's
own statement timeout."""

import logging
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from brain.tokens import token_create
from events.models import SystemEvent
from events.services import event_load

# The reads below begin transactions of their own, as under gunicorn: no test transaction.
database = pytest.mark.django_db(transaction=True)

BASE_DIR = Path(__file__).resolve().parent.parent

READ_GAVE_UP = {
    "detail": "The database gave up on this request: reading it took longer than an API read "
    "may. Narrow it (filters, a time range) or try again later."
}


@pytest.fixture
def client_as_served(user):
    """A token client that answers a server error as the server would, with its handler's
    response, and whose token lookup is already cached (the read below runs only the stats)."""
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=user)}")
    assert client.get("/api/auth/me").status_code == 200
    return client


@pytest.fixture
def events():
    now = timezone.now()
    event_load(
        events=[
            {
                "event_type": "health_check",
                "severity": "info",
                "message": f"probe {n} answered in {n % 900} ms",
                "details": None,
                "source": f"api-{n % 8}",
                "timestamp": now - timedelta(seconds=n),
                "created_at": now,
            }
            for n in range(50_000)
        ]
    )


def _statement_timeout():
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


@database
def test_a_read_past_the_timeout_is_a_logged_503_with_retry_after(
    client_as_served, events, settings, caplog
):
    settings.API_READ_STATEMENT_TIMEOUT = 0.001

    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client_as_served.get("/api/events/stats?search=nowhere")

    assert response.status_code == 503
    assert response.json() == READ_GAVE_UP
    assert response["Retry-After"] == "5"
    [record] = [record for record in caplog.records if record.name == "django.request"]
    assert record.getMessage() == "Service Unavailable: /api/events/stats"
    assert "canceling statement due to statement timeout" in str(record.exc_info[1])


@database
def test_the_same_read_within_the_timeout_is_answered(client_as_served, events, settings):
    settings.API_READ_STATEMENT_TIMEOUT = 30

    response = client_as_served.get("/api/events/stats?search=nowhere")

    assert response.status_code == 200
    assert response.json()["total"] == 0


@database
def test_the_timeout_ends_with_the_read(client_as_served, events, settings):
    settings.API_READ_STATEMENT_TIMEOUT = 0.001
    assert client_as_served.get("/api/events/stats?search=nowhere").status_code == 503
    settings.API_READ_STATEMENT_TIMEOUT = 2.5
    assert client_as_served.get("/api/events/stats?search=probe").status_code == 200

    # The connection went back to the pool after each request; the next one has no timeout.
    assert _statement_timeout() == "0"


@database
def test_a_write_keeps_the_database_statement_timeout(client_as_served, settings):
    settings.API_READ_STATEMENT_TIMEOUT = 0.001

    response = client_as_served.post(
        "/api/events", {"event_type": "deploy", "severity": "info", "message": "v1"}, format="json"
    )

    assert response.status_code == 201
    assert SystemEvent.objects.get().message == "v1"


@database
def test_with_no_read_timeout_a_read_runs_as_any_statement(client_as_served, events, settings):
    settings.API_READ_STATEMENT_TIMEOUT = 0

    response = client_as_served.get("/api/events/stats?search=nowhere")

    assert response.status_code == 200
    assert response.json()["total"] == 0


def _read_timeout(**environment):
    """API_READ_STATEMENT_TIMEOUT as settings read it from `environment`, in a fresh interpreter."""
    env = {key: value for key, value in os.environ.items() if not key.endswith("_TIMEOUT")}
    env.update(DJANGO_SETTINGS_MODULE="brain.settings.base", SECRET_KEY="k", **environment)
    probe = "import django; django.setup(); from django.conf import settings; "
    probe += "print(settings.API_READ_STATEMENT_TIMEOUT)"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )
    return float(result.stdout)


@pytest.mark.parametrize(
    ("environment", "seconds"),
    [
        ({}, 3),
        ({"API_READ_STATEMENT_TIMEOUT": "1.5"}, 1.5),
        ({"DATABASE_STATEMENT_TIMEOUT": "30"}, 3),
        ({"DATABASE_STATEMENT_TIMEOUT": "2"}, 2),
        ({"API_READ_STATEMENT_TIMEOUT": "0", "DATABASE_STATEMENT_TIMEOUT": "30"}, 0),
    ],
)
def test_the_read_timeout_is_never_longer_than_the_database_statement_timeout(environment, seconds):
    assert _read_timeout(DATABASE_URL="postgres://u@db.example/brain", **environment) == seconds
