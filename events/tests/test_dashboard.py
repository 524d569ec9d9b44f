import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from events import cache as events_cache
from events import dashboard
from events.models import EventHourCount, EventTypeSourceCount
from events.selectors import event_series
from events.services import event_create
from events.tests.conftest import redis_keys
from events.tests.factories import SystemEventFactory

pytestmark = pytest.mark.django_db

URL = "/admin/events/dashboard/"


def test_dashboard_is_for_staff_only(client, user, staff_user):
    assert client.get(URL).status_code == 302  # to the login page

    client.force_login(user)
    assert client.get(URL).status_code == 302

    client.force_login(staff_user)  # staff without the permission to view events
    assert client.get(URL).status_code == 403


def test_dashboard_shows_the_cached_statistics_of_the_api(admin_client, admin_user):
    now = timezone.now()
    SystemEventFactory(severity="error", event_type="deploy", source="ci", timestamp=now)
    SystemEventFactory(severity="info", timestamp=now - timedelta(hours=2))
    SystemEventFactory(severity="critical", timestamp=now - timedelta(days=3))
    api = admin_client.get("/api/events/stats").json()

    response = admin_client.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'data-stat="total">(\d+)<', html).group(1) == str(api["total"]) == "3"
    for severity, count in api["by_severity"].items():
        assert (
            f'data-stat="{severity}"><a href="/admin/events/systemevent/?severity__exact=' in html
        )
        assert re.search(rf'data-stat="{severity}"><a [^>]*>(\d+)<', html).group(1) == str(count)
    assert '<a href="/admin/events/systemevent/?event_type=deploy">deploy</a>' in html
    assert '<a href="/admin/events/systemevent/?source=ci">ci</a>' in html
    assert html.count('<g class="bar"') == 24 + 30
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_dashboard_reads_the_stats_entry_the_api_reads_and_its_series_with_it(admin_client):
    SystemEventFactory(severity="warning")

    admin_client.get(URL)

    stats_key = events_cache.events_stats_key("")
    series_key = events_cache.events_stats_key(dashboard.SERIES_VARIANT)
    assert redis_keys("brain:events:stats*") == sorted(
        [f"brain:{stats_key}", f"brain:{series_key}"]
    )
    # The API answers from the entry the dashboard stored: a row whose invalidation never runs
    # (it waits for a commit this test's transaction never makes) is counted by neither.
    SystemEventFactory(severity="info")
    assert admin_client.get("/api/events/stats").json()["total"] == 1
    html = admin_client.get(URL).content.decode()
    assert 'data-stat="total">1<' in html


def test_dashboard_writes_nothing_to_the_database(admin_client):
    SystemEventFactory(severity="critical", timestamp=timezone.now())  # its count rows unfolded
    rows = [
        sorted(EventHourCount.objects.values_list("id", "count", "folded")),
        sorted(EventTypeSourceCount.objects.values_list("id", "count", "folded")),
    ]

    with CaptureQueriesContext(connection) as context:
        response = admin_client.get(URL)

    assert response.status_code == 200
    assert re.search(r'data-stat="critical"><a [^>]*>1<', response.content.decode())
    statements = [query["sql"] for query in context.captured_queries]
    assert [sql for sql in statements if not sql.startswith("SELECT")] == []
    assert rows == [
        sorted(EventHourCount.objects.values_list("id", "count", "folded")),
        sorted(EventTypeSourceCount.objects.values_list("id", "count", "folded")),
    ]


def test_a_write_refreshes_the_dashboard(admin_client, django_capture_on_commit_callbacks):
    SystemEventFactory(severity="info")
    admin_client.get(URL)

    with django_capture_on_commit_callbacks(execute=True):
        event_create(event_type="deploy", severity="critical", message="down")

    html = admin_client.get(URL).content.decode()
    assert 'data-stat="total">2<' in html
    assert re.search(r'data-stat="critical"><a [^>]*>1<', html)


def test_chart_segments_link_to_the_changelist_of_their_severity_and_hour(admin_client):
    moment = timezone.now().replace(minute=30, second=0, microsecond=0)
    SystemEventFactory(severity="error", timestamp=moment)
    SystemEventFactory(severity="info", timestamp=moment - timedelta(hours=5))

    html = admin_client.get(URL).content.decode()

    hourly = html[html.index('id="chart-hourly"') : html.index('id="chart-daily"')]
    links = re.findall(r'<a href="([^"]+)"><rect[^>]*data-severity="error"', hourly)
    assert len(links) == 1
    query = parse_qs(urlparse(links[0].replace("&amp;", "&")).query)
    hour = moment.replace(minute=0)
    assert query == {
        "severity__exact": ["error"],
        "timestamp__gte": [hour.isoformat()],
        "timestamp__lt": [(hour + timedelta(hours=1)).isoformat()],
    }
    changelist = admin_client.get(links[0].replace("&amp;", "&"))
    assert changelist.status_code == 200
    assert [event.severity for event in changelist.context["cl"].result_list] == ["error"]


def test_latest_errors_and_criticals_are_listed_newest_first(admin_client):
    now = timezone.now()
    old = SystemEventFactory(severity="critical", message="old crash", timestamp=now - timedelta(1))
    new = SystemEventFactory(severity="error", message="new failure", timestamp=now)
    SystemEventFactory(severity="warning", message="just a warning", timestamp=now)

    html = admin_client.get(URL).content.decode()

    latest = html[html.index('id="latest-errors"') :]
    assert latest.index("new failure") < latest.index("old crash")
    assert "just a warning" not in latest
    assert f'href="/admin/events/systemevent/{new.pk}/change/"' in latest
    assert f'href="/admin/events/systemevent/{old.pk}/change/"' in latest


def test_series_counts_by_severity_per_hour_and_per_day():
    now = datetime(2026, 3, 10, 12, 20, tzinfo=UTC)
    SystemEventFactory(severity="error", timestamp=now - timedelta(minutes=10))
    SystemEventFactory(severity="error", timestamp=now - timedelta(minutes=5))
    SystemEventFactory(severity="info", timestamp=now - timedelta(hours=23, minutes=30))
    SystemEventFactory(severity="warning", timestamp=now - timedelta(days=2))
    SystemEventFactory(severity="warning", timestamp=now - timedelta(days=31))  # out of range

    series = event_series(now=now)

    hours, days = series["per_hour"], series["per_day"]
    assert (len(hours), len(days)) == (24, 30)
    assert hours[-1] == {
        "start": datetime(2026, 3, 10, 12, tzinfo=UTC),
        "counts": {"info": 0, "warning": 0, "error": 2, "critical": 0},
    }
    assert hours[0]["start"] == datetime(2026, 3, 9, 13, tzinfo=UTC)
    assert hours[0]["counts"]["info"] == 0  # 12:50 the day before is the hour before the window
    assert days[-1]["start"] == datetime(2026, 3, 10, tzinfo=UTC)
    assert days[0]["start"] == datetime(2026, 2, 9, tzinfo=UTC)
    assert days[-1]["counts"] == {"info": 0, "warning": 0, "error": 2, "critical": 0}
    assert days[-2]["counts"] == {"info": 1, "warning": 0, "error": 0, "critical": 0}
    assert days[-3]["counts"] == {"info": 0, "warning": 1, "error": 0, "critical": 0}
    assert sum(sum(day["counts"].values()) for day in days) == 4


def test_in_the_last_hour_of_a_day_the_last_bars_are_that_hour_and_that_day():
    now = datetime(2026, 3, 10, 23, 40, tzinfo=UTC)
    SystemEventFactory(severity="critical", timestamp=now - timedelta(minutes=5))

    series = event_series(now=now)

    assert series["per_hour"][-1]["start"] == datetime(2026, 3, 10, 23, tzinfo=UTC)
    assert series["per_day"][-1] == {
        "start": datetime(2026, 3, 10, tzinfo=UTC),
        "counts": {"info": 0, "warning": 0, "error": 0, "critical": 1},
    }


def test_index_and_changelist_link_to_the_dashboard(admin_client):
    for page in ["/admin/", "/admin/events/systemevent/"]:
        assert f'href="{URL}"' in admin_client.get(page).content.decode()
