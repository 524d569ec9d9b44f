from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events.models import EventHourCount, EventTypeSourceCount, SystemEvent
from events.selectors import event_stats

from .conftest import iso
from .factories import SystemEventFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 22, 10, 30, tzinfo=UTC)
HOURS = [NOW.replace(minute=0) - timedelta(hours=23 - n) for n in range(24)]


def test_stats_of_an_empty_table():
    assert event_stats(now=NOW) == {
        "total": 0,
        "by_severity": {"info": 0, "warning": 0, "error": 0, "critical": 0},
        "by_type": [],
        "top_sources": [],
        "first_event_at": None,
        "last_event_at": None,
        "last_24h": [{"hour": hour, "count": 0} for hour in HOURS],
    }


def test_stats_count_by_severity_type_source_and_hour():
    SystemEventFactory(
        event_type="deploy", severity="error", source="ci", timestamp=NOW - timedelta(minutes=5)
    )
    SystemEventFactory(
        event_type="deploy", severity="info", source="ci", timestamp=NOW - timedelta(hours=1)
    )
    SystemEventFactory(
        event_type="health_check",
        severity="info",
        source=None,
        timestamp=NOW - timedelta(hours=1, minutes=10),
    )
    SystemEventFactory(
        event_type="backup", severity="critical", source="cron", timestamp=NOW - timedelta(days=3)
    )

    stats = event_stats(now=NOW)

    hourly = {NOW.replace(minute=0): 1, NOW.replace(minute=0) - timedelta(hours=1): 2}
    assert stats == {
        "total": 4,
        "by_severity": {"info": 2, "warning": 0, "error": 1, "critical": 1},
        "by_type": [
            {"event_type": "deploy", "count": 2},
            {"event_type": "backup", "count": 1},
            {"event_type": "health_check", "count": 1},
        ],
        "top_sources": [{"source": "ci", "count": 2}, {"source": "cron", "count": 1}],
        "first_event_at": NOW - timedelta(days=3),
        "last_event_at": NOW - timedelta(minutes=5),
        "last_24h": [{"hour": hour, "count": hourly.get(hour, 0)} for hour in HOURS],
    }


def test_stats_of_a_queryset_run_four_aggregate_queries(django_assert_num_queries):
    SystemEventFactory.create_batch(5)

    with django_assert_num_queries(4):
        event_stats(queryset=SystemEvent.objects.filter(severity="info"))


def test_stats_of_every_event_read_the_events_only_for_their_first_and_last_time():
    SystemEventFactory.create_batch(5)

    with CaptureQueriesContext(connection) as context:
        stats = event_stats()

    assert stats["total"] == 5
    reads = [
        query["sql"] for query in context.captured_queries if '"system_events"' in query["sql"]
    ]
    assert len(reads) == 1
    assert reads[0].startswith('SELECT MIN("system_events"."timestamp")')


def test_stats_endpoint_body(api_client):
    now = datetime.now(UTC)
    event = SystemEventFactory(event_type="deploy", severity="warning", source="ci", timestamp=now)

    response = api_client.get("/api/events/stats")

    body = response.json()
    assert response.status_code == 200
    assert {key: value for key, value in body.items() if key != "last_24h"} == {
        "total": 1,
        "by_severity": {"info": 0, "warning": 1, "error": 0, "critical": 0},
        "by_type": [{"event_type": "deploy", "count": 1}],
        "top_sources": [{"source": "ci", "count": 1}],
        "first_event_at": iso(event.timestamp),
        "last_event_at": iso(event.timestamp),
    }
    current_hour = now.replace(minute=0, second=0, microsecond=0)
    assert [bucket["hour"] for bucket in body["last_24h"]] == [
        iso(current_hour - timedelta(hours=23 - n)) for n in range(24)
    ]
    assert [bucket["count"] for bucket in body["last_24h"]] == [0] * 23 + [1]


def test_stats_endpoint_writes_nothing_to_the_database(api_client):
    SystemEventFactory.create_batch(3, severity="error")  # their count rows are not folded
    rows = [
        sorted(EventHourCount.objects.values_list("id", "count", "folded")),
        sorted(EventTypeSourceCount.objects.values_list("id", "count", "folded")),
    ]
    # The token's first lookup records its last use: authentication's write, not the endpoint's.
    assert api_client.get("/api/auth/me").status_code == 200

    with CaptureQueriesContext(connection) as context:
        response = api_client.get("/api/events/stats")

    assert response.status_code == 200
    assert response.json()["by_severity"] == {"info": 0, "warning": 0, "error": 3, "critical": 0}
    statements = [query["sql"] for query in context.captured_queries]
    assert [sql for sql in statements if not sql.startswith("SELECT")] == []
    assert rows == [
        sorted(EventHourCount.objects.values_list("id", "count", "folded")),
        sorted(EventTypeSourceCount.objects.values_list("id", "count", "folded")),
    ]


def test_stats_endpoint_takes_the_list_filters(api_client):
    now = datetime.now(UTC)
    SystemEventFactory(
        event_type="deploy", severity="error", source="ci", timestamp=now - timedelta(days=2)
    )
    SystemEventFactory(event_type="deploy", severity="info", source="ci", timestamp=now)
    SystemEventFactory(event_type="backup", severity="error", source="cron", timestamp=now)

    def total(query):
        return api_client.get(f"/api/events/stats?{query}").json()["total"]

    assert total("event_type=deploy") == 2
    assert total("severity=error") == 2
    assert total("severity=error&severity=info&source=ci") == 2
    assert total("source=cron") == 1
    assert total(f"timestamp_after={iso(now - timedelta(days=1)).replace('+', '%2B')}") == 2
    assert total(f"timestamp_before={iso(now - timedelta(days=1))}") == 1
    assert total("event_type=deploy&severity=error") == 1


def test_stats_endpoint_refuses_invalid_filters(api_client):
    response = api_client.get("/api/events/stats?severity=fatal&source=%00")

    assert response.status_code == 400
    assert response.json() == {
        "severity": ['"fatal" is not a valid choice.'],
        "source": ["Null characters are not allowed."],
    }


def test_stats_endpoint_cached_body_is_byte_identical(api_client, django_assert_num_queries):
    SystemEventFactory()
    first = api_client.get("/api/events/stats?severity=info")

    with django_assert_num_queries(0):
        second = api_client.get("/api/events/stats?severity=info")

    assert second.content == first.content


def test_stats_refuse_an_unknown_parameter_rather_than_answer_every_events(api_client):
    SystemEventFactory()

    response = api_client.get("/api/events/stats?unknown=1")

    assert (response.status_code, response.json()) == (
        400,
        {
            "unknown": [
                "Unknown query parameter. Known: event_type, severity, source, timestamp_after, "
                "timestamp_before, search, format."
            ]
        },
    )
