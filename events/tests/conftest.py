import pytest
from django.core.cache import cache

from events import lifecycle


def iso(value):
    """A datetime as the API writes it."""
    return value.isoformat().replace("+00:00", "Z")


def event_json(event):
    return {
        "id": event.id,
        "event_type": event.event_type,
        "severity": event.severity,
        "message": event.message,
        "details": event.details,
        "source": event.source,
        "timestamp": iso(event.timestamp),
        "created_at": iso(event.created_at),
    }


def redis_keys(pattern="brain:events:*"):
    """The events keys in Redis, as Redis names them, sorted."""
    client = cache.client.get_client(write=True)
    return sorted(key.decode() for key in client.keys(pattern))


@pytest.fixture
def redis_down(settings):
    """Every cache call goes to a closed port: reads miss, writes are dropped."""
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}
    }


@pytest.fixture(autouse=True)
def fresh_health_recorder(monkeypatch):
    """Each test starts with a process that has seen no health probe."""
    monkeypatch.setattr(lifecycle, "health_recorder", lifecycle.HealthRecorder())
