import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.core.cache import CacheHandler, caches
from django.db import connections
from django.db.utils import ConnectionHandler

from audit.models import AuditLog
from brain import health
from events import lifecycle
from events.models import SystemEvent
from tests.support import free_port, server_environment

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def recorded():
    return list(
        SystemEvent.objects.order_by("timestamp", "id").values_list(
            "event_type", "severity", "details"
        )
    )


@pytest.fixture
def cache_down(monkeypatch, settings):
    closed_port = {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}
    monkeypatch.setattr(health, "caches", CacheHandler({"default": closed_port}))


@pytest.fixture
def database_down(monkeypatch):
    closed_port = {
        **connections["default"].settings_dict,
        "PORT": "1",
        "OPTIONS": {"connect_timeout": 2},
    }
    monkeypatch.setattr(health, "connections", ConnectionHandler({"default": closed_port}))


def test_the_first_probe_records_the_state_and_later_probes_nothing(
    anon_client, django_assert_num_queries
):
    anon_client.get("/health/ready")

    # Nothing on the request's connection: the readiness SELECT 1 runs on a pooled connection of
    # its own (brain.health), and an unchanged state records nothing.
    with django_assert_num_queries(0):
        statuses = [anon_client.get("/health/ready").status_code for _ in range(20)]

    assert statuses == [200] * 20
    assert recorded() == [("health_state_changed", "info", {"from": None, "to": "ok"})]
    assert list(AuditLog.objects.values_list("operation", "user_id")) == [
        ("CREATE", "system:health")
    ]


def test_cache_loss_and_recovery_are_recorded_once(anon_client, monkeypatch, cache_down):
    degraded = [anon_client.get("/health/ready").json()["status"] for _ in range(2)]
    monkeypatch.setattr(health, "caches", caches)
    recovered = [anon_client.get("/health/ready").json()["status"] for _ in range(2)]

    assert (degraded, recovered) == (["degraded"] * 2, ["ok"] * 2)
    assert recorded() == [
        ("health_state_changed", "warning", {"from": None, "to": "degraded"}),
        ("health_state_changed", "info", {"from": "degraded", "to": "ok"}),
    ]


def test_workers_seeing_the_same_change_record_it_once():
    first, second = lifecycle.HealthRecorder(), lifecycle.HealthRecorder()

    for recorder in (first, second, first, second):
        recorder.observe(database_ok=True, cache_ok=False)
    for recorder in (second, first):
        recorder.observe(database_ok=True, cache_ok=True)

    assert [details for _, _, details in recorded()] == [
        {"from": None, "to": "degraded"},
        {"from": "degraded", "to": "ok"},
    ]


def test_a_database_outage_is_recorded_on_recovery(anon_client, monkeypatch, database_down):
    lifecycle.health_recorder.observe(database_ok=True, cache_ok=True)
    other_worker = lifecycle.HealthRecorder()
    other_worker.observe(database_ok=True, cache_ok=True)

    assert anon_client.get("/health/ready").status_code == 503
    assert anon_client.get("/health/ready").status_code == 503
    other_worker.observe(database_ok=False, cache_ok=True)
    assert len(recorded()) == 1  # nothing can be written while the database is down
    monkeypatch.setattr(health, "connections", connections)
    assert anon_client.get("/health/ready").status_code == 200
    other_worker.observe(database_ok=True, cache_ok=True)

    events = list(SystemEvent.objects.order_by("timestamp", "id"))
    assert [(event.event_type, event.severity) for event in events] == [
        ("health_state_changed", "info"),
        ("health_state_changed", "error"),
        ("database_connection_lost", "error"),
        ("database_connection_restored", "info"),
        ("health_state_changed", "info"),
    ]
    assert [event.details for event in events if event.event_type == "health_state_changed"] == [
        {"from": None, "to": "ok"},
        {"from": "ok", "to": "unavailable"},
        {"from": "unavailable", "to": "ok"},
    ]
    lost, restored = events[2], events[3]
    assert events[1].timestamp == lost.timestamp
    assert restored.details["down_since"] == lost.timestamp.isoformat()
    assert restored.details["downtime_seconds"] >= 0


def test_a_failure_to_record_never_fails_the_probe(anon_client, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("recording failed")

    monkeypatch.setattr(lifecycle.health_recorder, "observe", broken)

    assert anon_client.get("/health/ready").status_code == 200
    assert recorded() == []


def _get(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status


@pytest.mark.django_db(transaction=True)
def test_gunicorn_records_its_start_and_stop_once():
    port = free_port()
    env = server_environment(PORT=str(port), WEB_CONCURRENCY="2")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "brain/gunicorn.conf.py"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                _get(f"http://127.0.0.1:{port}/health/live")
                break
            except OSError:
                time.sleep(0.1)
        statuses = [_get(f"http://127.0.0.1:{port}/health/ready") for _ in range(10)]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    assert statuses == [200] * 10
    assert [(event_type, severity) for event_type, severity, _ in recorded()] == [
        ("server_start", "info"),
        ("health_state_changed", "info"),
        ("server_stop", "info"),
    ]
    assert list(AuditLog.objects.order_by("id").values_list("user_id", flat=True)) == [
        "system:gunicorn",
        "system:health",
        "system:gunicorn",
    ]
    start = SystemEvent.objects.get(event_type="server_start")
    assert start.details == {"bind": f"127.0.0.1:{port}", "workers": 2, "pid": server.pid}
    assert start.source == "brain"
