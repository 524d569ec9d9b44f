"""The events dashboard's live tail in a real browser: new events shown at the top as they are
written, changes and deletes on their rows, a purge on the rows and bars of its month, the
severity filter, the charts' bars growing, and
the socket coming back by itself after the server restarts, without missing an event, and a
new hour moving the bars."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone
from playwright.sync_api import expect

from brain import partitions
from events.partitions import event_partitions_drop
from events.services import event_bulk_create, event_create, event_delete, event_update

from .conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)

DASHBOARD = "/admin/events/dashboard/"
# How Chromium reports a socket that could not connect while the server was down.
SOCKET_REFUSED = r"^WebSocket connection to 'ws://127\.0\.0\.1:\d+/ws/events[^']*' failed"
# Seconds a reconnect may take: the server's restart and the page's waits between attempts.
RECONNECT_WAIT = 30_000


@pytest.fixture
def earlier_events():
    """A few events of the last hours, so that the charts start with bars."""
    now = timezone.now()
    return event_bulk_create(
        events=[
            {"event_type": "backup", "severity": severity, "message": "m", "timestamp": now - age}
            for severity, age in [("info", timedelta(hours=3)), ("error", timedelta(0))]
        ]
    )


def open_dashboard(watched):
    """Signs in, opens the dashboard and waits for its live tail to be connected; its socket."""
    log_in(watched)
    with watched.page.expect_websocket() as socket:
        watched.open(DASHBOARD)
    expect(watched.page.locator("#live-status")).to_have_attribute("data-state", "live")
    return socket.value


def subscribed_to(filters):
    """Whether a frame from the server says the socket's filters are now `filters`."""

    def check(payload):
        message = json.loads(payload)
        return message["type"] == "subscribed" and message["filters"] == filters

    return check


def segment(page, chart, start, severity):
    """The segment of `severity` in the bar of `chart` that starts at `start`."""
    bar = f'#chart-{chart} g.bar[data-start="{start.isoformat()}"]'
    return page.locator(f'{bar} rect[data-severity="{severity}"]')


def bar_counts(page, chart, start):
    """{severity: count} of the bar of `chart` ("hourly", "daily") that starts at `start`."""
    return page.evaluate(
        """([chart, start]) => {
          const bar = [...document.querySelectorAll(`#chart-${chart} g.bar`)]
            .find((bar) => Date.parse(bar.dataset.start) === Date.parse(start));
          const rects = bar ? [...bar.querySelectorAll("rect")] : [];
          return Object.fromEntries(rects.map((r) => [r.dataset.severity, +r.dataset.count]));
        }""",
        [chart, start.isoformat()],
    )


def hour_of(moment):
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def rows(page):
    return page.locator("#live-events tbody tr")


def row(page, event):
    return page.locator(f'#live-events tbody tr[data-id="{event.pk}"]')


def test_new_events_are_shown_at_the_top_and_grow_the_current_hour(
    watched, operator, earlier_events
):
    open_dashboard(watched)
    page = watched.page
    now = timezone.now()
    hour, day = hour_of(now), hour_of(now).replace(hour=0)
    before = bar_counts(page, "hourly", hour), bar_counts(page, "daily", day)
    expect(page.locator("#live-empty")).to_be_visible()

    first = event_create(event_type="deploy", severity="info", message="v1 out", timestamp=now)
    second = event_create(event_type="disk", severity="critical", message="full", timestamp=now)

    expect(rows(page)).to_have_count(2)
    expect(rows(page).first).to_have_attribute("data-id", str(second.pk))
    expect(page.locator("#live-empty")).to_be_hidden()
    cells = rows(page).nth(1).locator("td")
    assert cells.all_text_contents() == [
        now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "info",
        "deploy",
        "v1 out",
        "new",
    ]
    assert cells.nth(1).locator("strong").get_attribute("style") == "color: rgb(65, 118, 144);"
    link = cells.nth(2).locator("a")
    assert link.get_attribute("href") == f"/admin/events/systemevent/{first.pk}/change/"
    # The current hour's bar and today's have grown by these two, per severity.
    for chart, start, counts in [("hourly", hour, before[0]), ("daily", day, before[1])]:
        expect(segment(page, chart, start, "critical")).to_have_attribute("data-count", "1")
        expected = {**counts, "info": counts.get("info", 0) + 1, "critical": 1}
        assert bar_counts(page, chart, start) == expected
    watched.screenshot("dashboard-live")

    # A change shows on the event's row; a delete strikes it through, without a link.
    event_update(event=first, data={"severity": "warning", "message": "v1 rolled back"})
    expect(row(page, first).locator("td").nth(4)).to_have_text("changed")
    assert row(page, first).locator("td").nth(1).text_content() == "warning"
    assert row(page, first).locator("td").nth(3).text_content() == "v1 rolled back"
    deleted = row(page, second)
    event_delete(event=second)
    expect(deleted).to_have_class("live-deleted")
    assert deleted.locator("a").count() == 0
    assert rows(page).count() == 2
    expect(segment(page, "hourly", hour, "critical")).to_have_count(0)
    expected = {**before[0], "info": before[0].get("info", 0) + 1}  # a change moves no bar
    assert bar_counts(page, "hourly", hour) == expected

    # The list keeps the newest 50 events.
    created = event_bulk_create(
        events=[
            {"event_type": "batch", "severity": "info", "message": f"n{index}"}
            for index in range(60)
        ]
    )
    expect(rows(page).first).to_have_attribute("data-id", str(created[-1].pk))
    expect(rows(page)).to_have_count(50)
    assert rows(page).last.get_attribute("data-id") == str(created[10].pk)


def test_a_purge_strikes_its_listed_events_through_and_empties_its_bars(
    watched, operator, earlier_events
):
    open_dashboard(watched)
    page = watched.page
    now = timezone.now()
    hour, day = hour_of(now), hour_of(now).replace(hour=0)
    event = event_create(event_type="deploy", severity="critical", message="m", timestamp=now)
    expect(segment(page, "hourly", hour, "critical")).to_have_attribute("data-count", "1")
    month = partitions.period_start("month", now)
    try:
        # This month's partition, dropped as a purge of everything before the next month.
        event_partitions_drop(older_than=partitions.period_next("month", month))
        expect(row(page, event)).to_have_class("live-deleted")
        assert row(page, event).locator("td").nth(4).text_content() == "deleted"
        assert row(page, event).locator("a").count() == 0
        expect(segment(page, "hourly", hour, "critical")).to_have_count(0)
        assert bar_counts(page, "hourly", hour) == {}
        assert bar_counts(page, "daily", day) == {}
    finally:
        partitions.partitions_create(partitions.REGISTRY["system_events"], now)


def test_the_severity_filter_is_the_sockets(watched, operator):
    socket = open_dashboard(watched)
    page = watched.page
    shown = event_create(event_type="deploy", severity="info", message="shown")
    expect(row(page, shown)).to_have_count(1)

    page.uncheck('#live-severities input[value="info"]')
    filtered = subscribed_to({"severity": ["critical", "error"]})
    with socket.expect_event("framereceived", predicate=filtered):
        page.uncheck('#live-severities input[value="warning"]')

    expect(row(page, shown)).to_be_hidden()  # what the list holds follows the filter too
    for severity in ("info", "warning", "error", "critical", "info"):
        last = event_create(event_type="check", severity=severity, message=severity)
    # The socket sent no info or warning: in order, they came before the critical, and are absent.
    expect(rows(page).first).to_have_attribute("data-severity", "critical")
    assert [row.get_attribute("data-severity") for row in rows(page).all()] == [
        "critical",
        "error",
        "info",
    ]
    assert row(page, last).count() == 0

    # Every box checked again: the socket's filters are none, and every severity comes.
    page.check('#live-severities input[value="info"]')
    with socket.expect_event("framereceived", predicate=subscribed_to({})):
        page.check('#live-severities input[value="warning"]')
    expect(row(page, shown)).to_be_visible()
    warning = event_create(event_type="check", severity="warning", message="back")
    expect(row(page, warning)).to_be_visible()
    # The last box cannot be unchecked: the tail always shows a severity.
    for severity in ("info", "warning", "error"):
        page.uncheck(f'#live-severities input[value="{severity}"]')
    page.locator('#live-severities input[value="critical"]').click()
    expect(page.locator('#live-severities input[value="critical"]')).to_be_checked()


def test_the_tail_reconnects_after_a_restart_and_misses_nothing(watched, operator, server):
    watched.expected_console_errors.append(SOCKET_REFUSED)
    open_dashboard(watched)
    page = watched.page
    sockets = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    before = event_create(event_type="deploy", severity="info", message="before")
    expect(row(page, before)).to_have_count(1)

    server.stop()
    expect(page.locator("#live-status")).to_have_attribute("data-state", "reconnecting")
    while_down = event_create(event_type="deploy", severity="error", message="while down")
    server.start()

    expect(row(page, while_down)).to_have_count(1, timeout=RECONNECT_WAIT)
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    assert rows(page).count() == 2  # nothing twice
    assert all(re.search(r"\?after=\d+$", url) for url in sockets), sockets
    after = event_create(event_type="deploy", severity="info", message="after")
    expect(rows(page).first).to_have_attribute("data-id", str(after.pk))
    assert rows(page).count() == 3


def test_a_signed_out_page_stops_and_says_so(watched, operator):
    open_dashboard(watched)

    Session.objects.all().delete()

    status = watched.page.locator("#live-status")
    expect(status).to_have_attribute("data-state", "stopped", timeout=RECONNECT_WAIT)
    expect(status).to_have_text("signed out: reload the page to sign in")


def test_a_new_hour_moves_the_bars_one_to_the_left(watched, operator, earlier_events):
    open_dashboard(watched)
    page = watched.page
    bars = page.locator("#chart-hourly g.bar")
    starts = [bar.get_attribute("data-start") for bar in bars.all()]
    labels = page.locator("#chart-hourly text").all_text_contents()
    next_hour = datetime.fromisoformat(starts[-1]) + timedelta(hours=1)
    page.clock.set_fixed_time(next_hour + timedelta(minutes=5))  # the page's clock only

    # An event of a later hour than the page's clock moves nothing; one of the new hour does.
    later = next_hour + timedelta(hours=2)
    event_create(event_type="deploy", severity="critical", message="m", timestamp=later)
    event_create(event_type="deploy", severity="critical", message="m", timestamp=next_hour)

    expect(segment(page, "hourly", next_hour, "critical")).to_have_attribute("data-count", "1")
    assert [bar.get_attribute("data-start") for bar in bars.all()] == [
        *starts[1:],
        next_hour.isoformat(),
    ]
    # Each label stays with its hour, one in three.
    assert page.locator("#chart-hourly text").all_text_contents() == [
        *labels[1:],
        next_hour.strftime("%H:00"),
    ]
