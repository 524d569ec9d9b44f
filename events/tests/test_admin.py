import re
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from brain import admin_lists
from brain.api import pagination
from events.admin import SystemEventAdmin
from events.models import SystemEvent

from .factories import SystemEventFactory
from .plans import partition_indexes

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/events/systemevent/"


def plan_by_index_conditions(sql):
    """PostgreSQL's plan of `sql` when reading a whole table or walking a whole index is the last
    resort (on a few thousand rows, either can cost less than an index probe): an index whose
    condition the query's filter is appears in it."""
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_indexscan = off")
        try:
            cursor.execute(f"EXPLAIN {sql}")
            return "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("RESET enable_seqscan")
            cursor.execute("RESET enable_indexscan")


def page_query(queries, table):
    """The SQL of the change list's page: the one selecting the rows of `table`, columns first."""
    return next(
        query["sql"] for query in queries if query["sql"].startswith(f'SELECT "{table}"."id", ')
    )


def test_changelist_never_counts_the_whole_table(admin_client, monkeypatch):
    SystemEventFactory.create_batch(4, event_type="deploy", source="ci")
    SystemEventFactory(event_type="backup", source=None)
    monkeypatch.setattr(pagination, "EXACT_COUNT_LIMIT", 2)

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get("/admin/events/systemevent/")

    assert response.status_code == 200
    assert response.context["cl"].result_count >= 3
    # The paginator counts the ids of the first rows, LIMITed, then estimates: no COUNT.
    assert not any("COUNT(" in query["sql"].upper() for query in queries)
    ids = [query["sql"] for query in queries if '"system_events"."id" AS "pk"' in query["sql"]]
    assert ids, "the paginator selects the first rows' ids"
    assert all(re.search(r"LIMIT \d+$", sql) for sql in ids if not sql.startswith("EXPLAIN")), ids
    # The sidebar filters probe the index per value instead of a DISTINCT over every row.
    assert not any(
        re.search(r'DISTINCT "system_events"\."(event_type|source)"', query["sql"])
        for query in queries
    )


def test_changelist_filters_list_the_values(admin_client):
    SystemEventFactory(event_type="deploy", source="ci", severity="error")
    SystemEventFactory(event_type="backup", source="cron", severity="info")

    response = admin_client.get("/admin/events/systemevent/?event_type=deploy&severity=error")

    content = response.content.decode()
    assert response.status_code == 200
    assert "event_type=backup&amp;" in content
    assert "source=cron" in content
    assert response.context["cl"].result_count == 1


def test_change_page_shows_details_and_message_preformatted(admin_client):
    event = SystemEventFactory(details={"b": 1, "a": [1, 2]}, message="line 1\n  line 2")

    response = admin_client.get(f"/admin/events/systemevent/{event.id}/change/")

    html = response.content.decode()
    assert response.status_code == 200
    assert (
        '<pre style="white-space: pre-wrap; margin: 0; max-width: 60em">{\n  &quot;a&quot;: '
        "[\n    1,\n    2\n  ],\n  &quot;b&quot;: 1\n}</pre>" in html
    )
    assert ">line 1\n  line 2</pre>" in html


def test_events_are_read_only_in_the_admin(admin_client):
    event = SystemEventFactory(message="old", severity="error")

    page = admin_client.get(f"/admin/events/systemevent/{event.id}/change/")
    html = page.content.decode()
    start = html.index('id="systemevent_form"')
    form = html[start : html.index("</form>", start)]
    assert re.findall(r"<(?:input|textarea|select)\b[^>]*>", form) == [
        re.search(r'<input type="hidden" name="csrfmiddlewaretoken"[^>]*>', form).group()
    ]
    assert 'name="_save"' not in html
    assert f'href="/admin/events/systemevent/{event.id}/delete/"' in html
    assert '<strong class="badge badge-error" style="color: #ba2121">error</strong>' in html
    assert re.search(r"<div class=\"readonly\">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</div>", html)

    changed = admin_client.post(
        f"/admin/events/systemevent/{event.id}/change/",
        {"event_type": "x", "severity": "info", "message": "new", "timestamp_0": "2026-11-01"},
    )
    added = admin_client.post(
        "/admin/events/systemevent/add/",
        {"event_type": "x", "severity": "info", "message": "new", "timestamp_0": "2026-11-01"},
    )

    assert (changed.status_code, added.status_code) == (403, 403)
    event.refresh_from_db()
    assert (event.message, event.severity, SystemEvent.objects.count()) == ("old", "error", 1)


def test_changelist_shows_times_to_the_second_and_colours_the_severity(admin_client):
    SystemEventFactory(severity="critical", timestamp="2026-11-01T10:20:30Z")

    html = admin_client.get("/admin/events/systemevent/").content.decode()

    assert "2026-11-01 10:20:30" in html
    assert '<strong class="badge badge-critical" style="color: #5c0a0a">critical</strong>' in html
    assert "/admin/events/systemevent/add/" not in html


def test_admin_delete_invalidates_the_cached_event(
    admin_client, api_client, django_capture_on_commit_callbacks
):
    event = SystemEventFactory()
    api_client.get(f"/api/events/{event.id}")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"/admin/events/systemevent/{event.id}/delete/", {"post": "yes"}
        )

    assert response.status_code == 302
    assert api_client.get(f"/api/events/{event.id}").status_code == 404


def test_change_form_links_to_the_events_audit_trail(admin_client):
    event = SystemEventFactory()

    page = admin_client.get(f"/admin/events/systemevent/{event.pk}/change/").content.decode()
    trail = admin_client.get(
        f"/admin/audit/auditlog/?table_name=system_events&record_id={event.pk}"
    )

    assert (
        f'href="/admin/audit/auditlog/?table_name=system_events&amp;record_id={event.pk}"' in page
    )
    assert trail.status_code == 200
    assert trail.context["cl"].result_list[0].record_id == str(event.pk)


def test_search_finds_each_word_anywhere_in_the_message_whatever_its_case(admin_client):
    SystemEventFactory(message="Kernel panic on node-7")
    SystemEventFactory(message="kernel upgraded on node-7")
    SystemEventFactory(message="disk full")

    response = admin_client.get(CHANGELIST, {"q": "PANIC kernel"})

    assert [event.message for event in response.context["cl"].result_list] == [
        "Kernel panic on node-7"
    ]


def test_the_message_search_is_served_by_the_trigram_index(admin_client):
    call_command("seed_events", count=3000, seed=1, jobs=1, verbosity=0)
    SystemEventFactory(message="Kernel panic on node-7")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE system_events")

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(CHANGELIST, {"q": "kernel panic"})

    assert [event.message for event in response.context["cl"].result_list] == [
        "Kernel panic on node-7"
    ]
    plan = plan_by_index_conditions(page_query(queries, "system_events"))
    assert any(
        f"Bitmap Index Scan on {name}" in plan
        for name in partition_indexes("idx_system_events_message_trgm")
    )


def test_a_page_of_a_search_reads_its_rows_by_id_without_searching_again(admin_client, monkeypatch):
    events = [
        SystemEventFactory(
            message=f"disk full on node-{hour}", timestamp=datetime(2026, 11, 1, hour, tzinfo=UTC)
        )
        for hour in range(5)
    ]
    SystemEventFactory(message="kernel panic")
    monkeypatch.setattr(SystemEventAdmin, "list_per_page", 2)

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(CHANGELIST, {"q": "disk full", "p": 2})

    assert [event.pk for event in response.context["cl"].result_list] == [
        events[2].pk,
        events[1].pk,
    ]
    rows = page_query(queries, "system_events")
    assert f'"system_events"."id" IN ({events[2].pk}, {events[1].pk})' in rows
    # No subquery searching again for the page's ids: they are selected once, with the count's.
    assert "IN (SELECT" not in rows
    searches = [query["sql"] for query in queries if "%disk%" in query["sql"]]
    assert len([sql for sql in searches if 'AS "pk"' in sql]) == 1, searches


def test_the_date_filter_narrows_the_list_without_a_scan_for_its_dates(admin_client):
    for message, timestamp in [
        ("before", datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC)),
        ("inside", datetime(2026, 11, 1, 10, tzinfo=UTC)),
        ("after", datetime(2026, 11, 2, tzinfo=UTC)),
    ]:
        SystemEventFactory(message=message, timestamp=timestamp)

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(
            CHANGELIST,
            {
                "timestamp__gte": "2026-11-01 00:00:00+00:00",
                "timestamp__lt": "2026-11-02 00:00:00+00:00",
            },
        )

    html = response.content.decode()
    assert [event.message for event in response.context["cl"].result_list] == ["inside"]
    assert "Past 7 days" in html
    assert "Today" in html
    # No date hierarchy: neither the range of the events' times nor their distinct days.
    assert not any(
        "DATE_TRUNC" in query["sql"] or 'MIN("system_events"."timestamp")' in query["sql"]
        for query in queries
    )


def test_pages_go_as_deep_as_the_console_cap_and_no_deeper(admin_client, monkeypatch):
    events = [
        SystemEventFactory(timestamp=datetime(2026, 11, 1, hour, tzinfo=UTC)) for hour in range(7)
    ]
    monkeypatch.setattr(SystemEventAdmin, "list_per_page", 2)
    monkeypatch.setattr(admin_lists, "CONSOLE_MAX_PAGES", 3)

    third = admin_client.get(CHANGELIST, {"p": 3})
    fourth = admin_client.get(CHANGELIST, {"p": 4})

    assert [event.pk for event in third.context["cl"].result_list] == [
        events[2].pk,
        events[1].pk,
    ]
    assert (fourth.status_code, fourth["Location"]) == (302, f"{CHANGELIST}?e=1")


def test_every_page_is_reached_when_the_estimate_is_far_below_the_rows(admin_client, monkeypatch):
    SystemEventFactory.create_batch(20, severity="info")
    with connection.cursor() as cursor:
        # Statistics that have seen no error event: the planner estimates about one.
        cursor.execute("ANALYZE system_events")
    errors = SystemEvent.objects.bulk_create(SystemEventFactory.build_batch(30, severity="error"))
    monkeypatch.setattr(pagination, "EXACT_COUNT_LIMIT", 5)
    monkeypatch.setattr(SystemEventAdmin, "list_per_page", 4)

    seen, number = [], 1
    while True:
        response = admin_client.get(CHANGELIST, {"severity__exact": "error", "p": number})
        assert response.status_code == 200
        seen += [event.pk for event in response.context["cl"].result_list]
        if f"p={number + 1}" not in response.content.decode():
            break
        number += 1

    assert sorted(seen) == sorted(event.pk for event in errors)
    assert (number, response.context["cl"].result_count) == (8, 30)
    assert "30 system events" in response.content.decode()
    past = admin_client.get(CHANGELIST, {"severity__exact": "error", "p": 9})
    assert (past.status_code, past["Location"]) == (302, f"{CHANGELIST}?e=1")
