"""The events API: each write (create, PUT, PATCH, DELETE, bulk) records one row per changed
event, naming the token user, the client address, its User-Agent and the request id; reads,
refused writes and a PATCH that changes nothing record nothing."""

from datetime import UTC, datetime, timedelta

import pytest

from events.models import SystemEvent
from events.tests.factories import SystemEventFactory
from tests.audit_paths.support import (
    audit_mark,
    change,
    client_meta,
    encoded,
    from_request,
    origins_after,
    records_after,
    stored,
)

pytestmark = pytest.mark.django_db


def test_api_event_create_records_a_create_by_the_token_user(
    api_client, user, django_capture_on_commit_callbacks
):
    mark = audit_mark()
    day = datetime.now(UTC).date() - timedelta(days=2)
    payload = {
        "event_type": "deployment",
        "severity": "info",
        "message": "v2 out",
        "details": {"version": 2, "api_key": "k-123"},
        "source": "ci",
        "timestamp": f"{day}T10:00:00.123456Z",
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            "/api/events", payload, format="json", **client_meta("req-event-create")
        )

    assert response.status_code == 201
    event = SystemEvent.objects.get()
    assert records_after(mark) == [
        (
            "CREATE",
            "system_events",
            str(event.pk),
            {
                "event_type": "deployment",
                "severity": "info",
                "message": "v2 out",
                "details": {"version": 2, "api_key": "[redacted]"},
                "source": "ci",
                "timestamp": f"{day}T10:00:00.123Z",
                "created_at": encoded(event.created_at),
            },
        )
    ]
    assert origins_after(mark) == [from_request(user, response)]


def test_api_event_put_records_only_the_changed_fields(staff_client, staff_user):
    event = SystemEventFactory(severity="info", message="disk 80%", source="api-1")
    mark = audit_mark()
    body = {
        "event_type": event.event_type,
        "severity": "error",
        "message": "disk 95%",
        "details": event.details,
        "source": "api-1",
    }

    response = staff_client.put(
        f"/api/events/{event.pk}", body, format="json", **client_meta("req-event-put")
    )

    assert response.status_code == 200
    assert records_after(mark) == [
        (
            "UPDATE",
            "system_events",
            str(event.pk),
            {"severity": change("info", "error"), "message": change("disk 80%", "disk 95%")},
        )
    ]
    assert origins_after(mark) == [from_request(staff_user, response)]


def test_api_event_patch_records_the_changed_field(staff_client, staff_user):
    event = SystemEventFactory(source="api-1")
    mark = audit_mark()

    response = staff_client.patch(
        f"/api/events/{event.pk}",
        {"source": "api-2"},
        format="json",
        **client_meta("req-event-patch"),
    )

    assert response.status_code == 200
    assert records_after(mark) == [
        ("UPDATE", "system_events", str(event.pk), {"source": change("api-1", "api-2")})
    ]
    assert origins_after(mark) == [from_request(staff_user, response)]


def test_api_event_patch_that_changes_nothing_records_nothing(staff_client):
    event = SystemEventFactory(severity="warning", message="same")
    mark = audit_mark()

    response = staff_client.patch(
        f"/api/events/{event.pk}",
        {"severity": "warning", "message": "same"},
        format="json",
        **client_meta("req-event-noop"),
    )

    assert response.status_code == 200
    assert records_after(mark) == []


def test_api_event_delete_records_the_last_values(
    staff_client, staff_user, django_capture_on_commit_callbacks
):
    event = SystemEventFactory()
    values = stored(event)
    mark = audit_mark()

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.delete(f"/api/events/{event.pk}", **client_meta("req-event-del"))

    assert response.status_code == 204
    assert records_after(mark) == [("DELETE", "system_events", str(event.pk), values)]
    assert origins_after(mark) == [from_request(staff_user, response)]


def test_api_event_bulk_records_one_create_per_event(
    api_client, user, django_capture_on_commit_callbacks
):
    mark = audit_mark()
    payload = [
        {"event_type": "backup", "severity": "info", "message": f"backup {n}", "source": "cron"}
        for n in range(3)
    ]

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            "/api/events/bulk", payload, format="json", **client_meta("req-event-bulk")
        )

    assert response.status_code == 201
    events = SystemEvent.objects.order_by("id")
    assert [event["id"] for event in response.json()] == [event.pk for event in events]
    assert records_after(mark) == [
        ("CREATE", "system_events", str(event.pk), stored(event)) for event in events
    ]
    assert [stored(event)["message"] for event in events] == ["backup 0", "backup 1", "backup 2"]
    assert origins_after(mark) == [from_request(user, response)] * 3


def test_api_event_reads_and_refused_writes_record_nothing(api_client, anon_client):
    event = SystemEventFactory()
    mark = audit_mark()

    reads = [
        api_client.get("/api/events").status_code,
        api_client.get(f"/api/events/{event.pk}").status_code,
        api_client.get(f"/api/events/type/{event.event_type}").status_code,
        api_client.get("/api/events/stats").status_code,
    ]
    refused = [
        api_client.patch(f"/api/events/{event.pk}", {"message": "x"}, format="json").status_code,
        api_client.delete(f"/api/events/{event.pk}").status_code,
        anon_client.post(
            "/api/events", {"event_type": "a", "severity": "info", "message": "m"}, format="json"
        ).status_code,
        api_client.post(
            "/api/events/bulk",
            [{"event_type": "a", "severity": "info", "message": "m"}, {"severity": "bogus"}],
            format="json",
        ).status_code,
    ]

    assert reads == [200, 200, 200, 200]
    assert refused == [403, 403, 401, 400]
    assert records_after(mark) == []
    assert SystemEvent.objects.count() == 1
