import pytest
from django.core.cache import CacheHandler
from django.db import connections
from django.db.utils import ConnectionHandler
from django.test import Client

from brain import health
from brain.signals import readiness_checked

pytestmark = pytest.mark.django_db


def test_live_does_no_io(anon_client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = anon_client.get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "path", ["/health/live", "/health/live/", "/health/ready", "/health/ready/"]
)
def test_probes_answer_head_and_a_trailing_slash(anon_client, path):
    assert anon_client.get(path).status_code == 200
    head = anon_client.head(path)
    assert (head.status_code, head.content) == (200, b"")
    assert anon_client.post(path).status_code == 405


@pytest.mark.parametrize("path", ["/", "/health/live", "/health/ready", "/health/scheduler"])
@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_a_write_method_on_a_public_page_is_a_405_not_a_csrf_failure(path, method):
    browser = Client(enforce_csrf_checks=True)

    response = getattr(browser, method)(path)

    assert (response.status_code, response["Allow"]) == (405, "GET, HEAD")


@pytest.mark.parametrize("view", [health.live, health.ready])
def test_head_response_has_no_body_before_any_server_strips_it(rf, view):
    response = view(rf.head("/health/live"))

    assert (response.status_code, response.content) == (200, b"")
    assert response["Content-Type"] == "application/json"


def test_ready_reports_each_part(anon_client):
    response = anon_client.get("/health/ready")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "degraded": False,
        "checks": {"database": "ok", "cache": "ok"},
    }


def test_ready_is_503_when_the_database_is_unreachable(anon_client, monkeypatch):
    closed_port = {
        **connections["default"].settings_dict,
        "PORT": "1",
        "OPTIONS": {"connect_timeout": 2},
    }
    monkeypatch.setattr(health, "connections", ConnectionHandler({"default": closed_port}))

    response = anon_client.get("/health/ready")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "degraded": False,
        "checks": {"database": "unreachable", "cache": "ok"},
    }


def test_ready_is_degraded_200_when_redis_is_unreachable(anon_client, monkeypatch, settings):
    closed_port = {
        **settings.CACHES["default"],
        "LOCATION": "redis://127.0.0.1:1/0",
    }
    monkeypatch.setattr(health, "caches", CacheHandler({"default": closed_port}))

    response = anon_client.get("/health/ready")

    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "degraded": True,
        "checks": {"database": "ok", "cache": "unreachable"},
    }


@pytest.fixture(scope="module")
def replica_pools():
    """Closes the replicas' pools after the module: Django closes the test database's own only."""
    yield
    for alias in ["replica1", "replica2"]:
        connections[alias].close()
        connections[alias].close_pool()


@pytest.mark.django_db(databases=["default", "replica1", "replica2"])
def test_ready_reports_each_replica_and_is_degraded_200_when_one_is_unreachable(
    anon_client, monkeypatch, settings, replica_pools
):
    settings.DATABASE_REPLICAS = ["replica1", "replica2"]
    primary = connections["default"].settings_dict
    # Without a pool: Django's pools are per alias, and these aliases are the suite's too.
    replica = {**primary, "OPTIONS": {"connect_timeout": 2}}
    closed_port = {**replica, "PORT": "1"}
    monkeypatch.setattr(
        health,
        "connections",
        ConnectionHandler({"default": primary, "replica1": replica, "replica2": closed_port}),
    )

    response = anon_client.get("/health/ready")

    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "degraded": True,
        "checks": {
            "database": "ok",
            "cache": "ok",
            "replicas": {"replica1": "ok", "replica2": "unreachable"},
        },
    }


def test_ready_sends_its_result_and_answers_whatever_a_receiver_does(anon_client, caplog):
    received = []

    def broken(sender, **result):
        received.append(result)
        raise RuntimeError("receiver failed")

    readiness_checked.connect(broken, dispatch_uid="test.broken")
    try:
        response = anon_client.get("/health/ready")
    finally:
        readiness_checked.disconnect(dispatch_uid="test.broken")

    assert response.status_code == 200
    assert received == [{"signal": readiness_checked, "database_ok": True, "cache_ok": True}]
    assert "receiver failed" in caplog.text
