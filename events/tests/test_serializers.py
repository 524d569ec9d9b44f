from datetime import UTC, datetime

import pytest

from events.serializers import SystemEventSerializer
from events.tests.factories import SystemEventFactory


@pytest.mark.django_db
def test_an_event_is_represented_with_every_field():
    event = SystemEventFactory(
        event_type="deploy",
        severity="warning",
        message="v1.2 rolled out",
        details={"version": "1.2", "hosts": [1, 2]},
        source=None,
        timestamp=datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
    )

    data = SystemEventSerializer(event).data

    assert data == {
        "id": event.pk,
        "event_type": "deploy",
        "severity": "warning",
        "message": "v1.2 rolled out",
        "details": {"version": "1.2", "hosts": [1, 2]},
        "source": None,
        "timestamp": "2026-01-02T03:04:05.678000Z",
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
    }
