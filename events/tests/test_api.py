import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditLog
from brain.api import pagination
from brain.validators import NOT_FINITE
from events.models import EventChange, SystemEvent

from .conftest import event_json, iso
from .factories import SystemEventFactory

pytestmark = pytest.mark.django_db

NOT_FOUND = {"detail": "Not found."}
FORBIDDEN = {"detail": "You do not have permission to perform this action."}
UNAUTHENTICATED = {"detail": "Authentication credentials were not provided."}


def page(events, count=None, next_url=None, previous=None):
    return {
        "count": len(events) if count is None else count,
        "next": next_url,
        "previous": previous,
        "results": [event_json(event) for event in events],
    }


def test_create_returns_the_event_and_stores_it(api_client, django_capture_on_commit_callbacks):
    payload = {
        "event_type": "health_check",
        "severity": "info",
        "message": "System healthy",
        "details": {"latency_ms": 12, "checks": ["db", "cache"]},
        "source": "api-1",
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/events", payload, format="json")

    assert response.status_code == 201
    event = SystemEvent.objects.get()
    assert response.json() == event_json(event)
    assert {field: getattr(event, field) for field in payload} == payload


def test_create_with_only_required_fields_defaults_the_rest(api_client):
    before = datetime.now(UTC)

    response = api_client.post(
        "/api/events",
        {"event_type": "deploy", "severity": "warning", "message": "m"},
        format="json",
    )

    assert response.status_code == 201
    event = SystemEvent.objects.get()
    assert (event.details, event.source) == (None, None)
    assert before <= event.timestamp <= datetime.now(UTC)
    assert response.json() == event_json(event)


def test_create_accepts_an_iso_timestamp(api_client):
    day = datetime.now(UTC).date() - timedelta(days=2)
    response = api_client.post(
        "/api/events",
        {
            "event_type": "deploy",
            "severity": "info",
            "message": "m",
            "timestamp": f"{day}T03:04:05+02:00",
        },
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["timestamp"] == f"{day}T01:04:05Z"
    assert SystemEvent.objects.get().timestamp == datetime(
        day.year, day.month, day.day, 1, 4, 5, tzinfo=UTC
    )


def test_create_takes_a_timestamp_without_an_offset_as_utc(api_client):
    day = datetime.now(UTC).date() - timedelta(days=2)
    response = api_client.post(
        "/api/events",
        {"event_type": "deploy", "severity": "info", "message": "m", "timestamp": f"{day}T03:04"},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["timestamp"] == f"{day}T03:04:00Z"


VALID = {"event_type": "deploy", "severity": "info", "message": "m"}


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        ({"event_type": ""}, {"event_type": ["This field may not be blank."]}),
        (
            {"event_type": "x" * 51},
            {"event_type": ["Ensure this field has no more than 50 characters."]},
        ),
        ({"severity": "fatal"}, {"severity": ['"fatal" is not a valid choice.']}),
        ({"message": ""}, {"message": ["This field may not be blank."]}),
        ({"message": None}, {"message": ["This field may not be null."]}),
        ({"source": "s" * 101}, {"source": ["Ensure this field has no more than 100 characters."]}),
        ({"details": [1, 2]}, {"details": ["Must be a JSON object."]}),
        ({"details": "text"}, {"details": ["Must be a JSON object."]}),
        ({"details": 3}, {"details": ["Must be a JSON object."]}),
        (
            {"timestamp": "yesterday"},
            {
                "timestamp": [
                    "Datetime has wrong format. Use one of these formats instead: "
                    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
                ]
            },
        ),
        (
            {"timestamp": "2026-01-01T00:00:00\x00Z"},
            {
                "timestamp": [
                    "Datetime has wrong format. Use one of these formats instead: "
                    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
                ]
            },
        ),
        # Text PostgreSQL cannot store: a field message, never a 500.
        ({"message": "a\x00b"}, {"message": ["Null characters are not allowed."]}),
        ({"event_type": "a\x00"}, {"event_type": ["Null characters are not allowed."]}),
        ({"source": "\x00"}, {"source": ["Null characters are not allowed."]}),
        ({"details": {"k": "a\x00b"}}, {"details": ["Null characters are not allowed."]}),
        ({"details": {"k\x00": 1}}, {"details": ["Null characters are not allowed."]}),
        ({"details": {"k": [{"deep": "\x00"}]}}, {"details": ["Null characters are not allowed."]}),
    ],
)
def test_create_refuses_invalid_input_with_field_messages(api_client, change, errors):
    response = api_client.post("/api/events", {**VALID, **change}, format="json")

    assert response.status_code == 400
    assert response.json() == errors
    assert not SystemEvent.objects.exists()


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ('"message": "\\ud800"', {"message": ["Surrogate characters are not allowed: U+D800."]}),
        (
            '"message": "m", "details": {"\\ud800": 1}',
            {"details": ["Surrogate characters are not allowed: U+D800."]},
        ),
        (
            '"message": "m", "details": {"k": ["\\udfff"]}',
            {"details": ["Surrogate characters are not allowed: U+DFFF."]},
        ),
        ('"message": "m", "details": {"k": 1e400}', {"details": [NOT_FINITE]}),
        # Bad input quoted in the message, with a character UTF-8 cannot encode: escaped.
        (
            '"message": "m", "severity": "\\ud800"',
            {"severity": ['"\ud800" is not a valid choice.']},
        ),
        # Deeper than brain.validators.MAX_JSON_DEPTH, or than Python's JSON decoder can read.
        (
            '"message": "m", "details": %s' % ('{"k": ' * 33 + "1" + "}" * 33),
            {"details": ["Nested more than 32 levels deep."]},
        ),
        (
            '"message": "m", "details": %s' % ('{"k": ' * 500 + "1" + "}" * 500),
            {"details": ["Nested more than 32 levels deep."]},
        ),
        (
            '"message": "m", "details": %s' % ("[" * 100_000 + "]" * 100_000),
            {"detail": "JSON parse error - nested too deeply."},
        ),
    ],
)
def test_create_refuses_json_that_postgresql_cannot_store(api_client, fields, errors):
    severity = "" if '"severity"' in fields else '"severity": "info", '
    body = '{"event_type": "deploy", ' + severity + fields + "}"

    response = api_client.generic("POST", "/api/events", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == errors
    assert not SystemEvent.objects.exists()


def test_the_browsable_api_renders_the_list(api_client):
    event = SystemEventFactory(message="shown in the page")

    response = api_client.get("/api/events", HTTP_ACCEPT="text/html")

    assert (response.status_code, response["Content-Type"]) == (200, "text/html; charset=utf-8")
    assert "shown in the page" in response.content.decode()
    assert f"&quot;{iso(event.timestamp)}&quot;" in response.content.decode()


def test_the_browsable_api_shows_an_error_quoting_a_lone_surrogate(api_client):
    body = '{"event_type": "deploy", "severity": "\\ud800", "message": "m"}'

    response = api_client.generic(
        "POST", "/api/events", body, content_type="application/json", HTTP_ACCEPT="text/html"
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert "&quot;\\&quot;\\ud800\\&quot; is not a valid choice.&quot;" in response.content.decode()
    assert not SystemEvent.objects.exists()


def test_the_browsable_api_offers_a_json_form_and_creates_through_it(api_client):
    page = api_client.get("/api/events", HTTP_ACCEPT="text/html")
    response = api_client.generic(
        "POST",
        "/api/events",
        '{"event_type": "deploy", "severity": "info", "message": "m"}',
        content_type="application/json",
        HTTP_ACCEPT="text/html",
    )

    assert page.status_code == 200
    assert '<option value="application/json"' in page.content.decode()
    assert response.status_code == 201
    assert SystemEvent.objects.get().message == "m"


@pytest.mark.parametrize("field", ["event_type", "severity", "message"])
def test_create_requires_the_seed_fields(api_client, field):
    payload = {key: value for key, value in VALID.items() if key != field}

    response = api_client.post("/api/events", payload, format="json")

    assert response.status_code == 400
    assert response.json() == {field: ["This field is required."]}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/events"),
        ("post", "/api/events"),
        ("get", "/api/events/1"),
        ("put", "/api/events/1"),
        ("patch", "/api/events/1"),
        ("delete", "/api/events/1"),
        ("get", "/api/events/type/deploy"),
        ("get", "/api/events/stats"),
        ("post", "/api/events/bulk"),
    ],
)
def test_anonymous_requests_are_401(anon_client, method, path):
    SystemEventFactory(id=1)

    response = getattr(anon_client, method)(path, {}, format="json")

    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED
    assert SystemEvent.objects.count() == 1


def test_list_is_newest_first_and_paginated(api_client):
    now = datetime.now(UTC)
    events = [SystemEventFactory(timestamp=now - timedelta(minutes=n)) for n in range(3)]

    response = api_client.get("/api/events?limit=2")

    assert response.status_code == 200
    assert response.json() == page(
        events[:2], count=3, next_url="http://testserver/api/events?limit=2&offset=2"
    )


def test_list_ties_on_timestamp_are_broken_by_id(api_client):
    now = datetime.now(UTC)
    first, second = SystemEventFactory(timestamp=now), SystemEventFactory(timestamp=now)

    response = api_client.get("/api/events")

    assert response.json() == page([second, first])


def test_list_filters(api_client):
    now = datetime.now(UTC)
    deploy_error = SystemEventFactory(
        event_type="deploy", severity="error", source="ci", message="Rollout FAILED", timestamp=now
    )
    deploy_info = SystemEventFactory(
        event_type="deploy",
        severity="info",
        source="ci",
        message="ok",
        timestamp=now - timedelta(hours=2),
    )
    health_critical = SystemEventFactory(
        event_type="health_check",
        severity="critical",
        source="lb",
        message="down",
        timestamp=now - timedelta(days=2),
    )
    after = iso(now - timedelta(hours=3))

    assert api_client.get("/api/events?event_type=deploy").json() == page(
        [deploy_error, deploy_info]
    )
    assert api_client.get("/api/events?severity=error&severity=critical").json() == page(
        [deploy_error, health_critical]
    )
    assert api_client.get("/api/events?source=lb").json() == page([health_critical])
    assert api_client.get("/api/events", {"timestamp_after": after}).json() == page(
        [deploy_error, deploy_info]
    )
    assert api_client.get("/api/events", {"timestamp_before": after}).json() == page(
        [health_critical]
    )
    assert api_client.get("/api/events?search=failed").json() == page([deploy_error])
    assert api_client.get("/api/events?event_type=deploy&severity=info").json() == page(
        [deploy_info]
    )


def test_lists_answer_each_event_as_its_own_url_does(api_client):
    details = {
        "ratio": 1.5e-07,
        "big": 1e16,
        "text": 'é \u2028 "quoted" \\ 😀',
        "nested": [1, 2.0, None, {"ok": True}],
    }
    old = SystemEventFactory(
        event_type="deploy", details=details, timestamp=datetime(2026, 1, 1, tzinfo=UTC)
    )
    new = SystemEventFactory(event_type="deploy", details=None, source=None)

    listed = api_client.get("/api/events").json()
    by_type = api_client.get("/api/events/type/deploy").json()

    assert listed == by_type == page([new, old])
    assert listed["results"][1]["timestamp"] == "2026-01-01T00:00:00Z"
    assert listed["results"] == [api_client.get(f"/api/events/{e.id}").json() for e in (new, old)]


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("timestamp", [2, 1, 0]),
        ("-timestamp", [0, 1, 2]),
        ("severity", [1, 2, 0]),
        ("id", [0, 1, 2]),
    ],
)
def test_list_ordering(api_client, ordering, expected):
    now = datetime.now(UTC)
    events = [
        SystemEventFactory(severity="info", timestamp=now),
        SystemEventFactory(severity="critical", timestamp=now - timedelta(hours=1)),
        SystemEventFactory(severity="error", timestamp=now - timedelta(hours=2)),
    ]

    response = api_client.get(f"/api/events?ordering={ordering}")

    assert response.json() == page([events[index] for index in expected])


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        (
            "severity=fatal",
            {"severity": ['"fatal" is not a valid choice.']},
        ),
        ("timestamp_after=soon", {"timestamp_after": ["Enter a valid date/time."]}),
        ("event_type=%00", {"event_type": ["Null characters are not allowed."]}),
        (
            "timestamp_after=2026-01-01T00:00:00%00Z",
            {"timestamp_after": ["Enter a valid date/time."]},
        ),
        ("search=a%00", {"search": ["Null characters are not allowed."]}),
    ],
)
def test_list_refuses_invalid_filters(api_client, query, errors):
    response = api_client.get(f"/api/events?{query}")

    assert response.status_code == 400
    assert response.json() == errors


def test_a_last_page_counts_its_rows_without_a_count_query(api_client, django_assert_num_queries):
    SystemEventFactory.create_batch(3)
    api_client.get("/api/auth/me")  # the token lookup is cached from here on

    with django_assert_num_queries(2):  # the read's statement timeout, the page
        response = api_client.get("/api/events?event_type=health_check&severity=info")

    assert response.json()["count"] == 3
    assert response.json()["next"] is None


def test_a_page_with_more_after_it_runs_a_bounded_count(api_client, django_assert_num_queries):
    SystemEventFactory.create_batch(3)
    api_client.get("/api/auth/me")

    with django_assert_num_queries(3):  # the read's statement timeout, the page, the count
        response = api_client.get("/api/events?limit=2")

    assert response.json()["count"] == 3
    assert response.json()["next"] == "http://testserver/api/events?limit=2&offset=2"


def test_every_row_is_reached_when_the_estimate_is_far_below_the_rows(api_client):
    SystemEventFactory.create_batch(20, severity="info")
    with connection.cursor() as cursor:
        # Statistics that have seen no error event: the planner estimates about one.
        cursor.execute("ANALYZE system_events")
    SystemEvent.objects.bulk_create(
        SystemEventFactory.build_batch(2_500, severity="error"), batch_size=1_000
    )
    estimate = pagination.planned_count(SystemEvent.objects.filter(severity="error").values("pk"))
    assert estimate < 1_000

    seen, counts = [], []
    url = "/api/events?severity=error&limit=1000"
    while url:
        body = api_client.get(url).json()
        seen += [event["id"] for event in body["results"]]
        counts.append(body["count"])
        url = body["next"]

    assert len(seen) == len(set(seen)) == 2_500
    # Never less than the rows a page has shown to exist; exact on the last page.
    assert counts == [1_001, 2_001, 2_500]
    past = api_client.get("/api/events?severity=error&limit=1000&offset=3000").json()
    # Past the end: the estimate (never below the 1,001 rows counted exactly), at most the offset.
    assert (past["results"], past["next"], past["count"]) == ([], None, 1_001)


def test_list_count_above_the_limit_is_the_planner_estimate(api_client, monkeypatch):
    SystemEventFactory.create_batch(5)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE system_events")
    monkeypatch.setattr(pagination, "EXACT_COUNT_LIMIT", 3)

    response = api_client.get("/api/events?limit=1")

    # The planner's figure: the partitions' estimates added up (an empty one counts as 1 row).
    plan = json.loads(SystemEvent.objects.order_by().explain(format="json"))
    assert response.json()["count"] == plan[0]["Plan"]["Plan Rows"] >= 5
    assert response.json()["next"] == "http://testserver/api/events?limit=1&offset=1"


def test_retrieve_returns_the_event(api_client):
    event = SystemEventFactory()

    response = api_client.get(f"/api/events/{event.id}")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == event_json(event)


@pytest.mark.parametrize("path", ["/api/events/999", "/api/events/2147483648", "/api/events/abc"])
def test_retrieve_unknown_event_is_404(api_client, path):
    response = api_client.get(path)

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_retrieve_is_answered_from_the_cache_byte_for_byte(api_client, django_assert_num_queries):
    event = SystemEventFactory()
    first = api_client.get(f"/api/events/{event.id}")

    with django_assert_num_queries(0):
        second = api_client.get(f"/api/events/{event.id}")

    assert second.status_code == 200
    assert second.content == first.content


def test_update_is_partial_and_staff_only(staff_client, django_capture_on_commit_callbacks):
    event = SystemEventFactory(event_type="deploy", severity="info", message="old", source="ci")

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.put(f"/api/events/{event.id}", {"severity": "error"}, format="json")

    event.refresh_from_db()
    assert response.status_code == 200
    assert response.json() == event_json(event)
    assert (event.event_type, event.severity, event.message, event.source) == (
        "deploy",
        "error",
        "old",
        "ci",
    )


def test_an_update_that_changes_nothing_writes_nothing(staff_client):
    event = SystemEventFactory(severity="info", message="same")
    records = AuditLog.objects.count()
    last_change = EventChange.objects.order_by("-id").values_list("id", flat=True).first()

    response = staff_client.patch(
        f"/api/events/{event.id}", {"severity": "info", "message": "same"}, format="json"
    )

    assert (response.status_code, response.json()) == (200, event_json(event))
    assert AuditLog.objects.count() == records
    assert not EventChange.objects.filter(id__gt=last_change).exists()


def test_an_update_of_a_json_value_to_an_equal_number_of_another_type_is_stored(staff_client):
    event = SystemEventFactory(details={"retry": 1, "ratio": 1})

    response = staff_client.patch(
        f"/api/events/{event.id}", {"details": {"retry": True, "ratio": 1.0}}, format="json"
    )

    event.refresh_from_db()
    assert response.json()["details"] == event.details == {"retry": True, "ratio": 1.0}
    assert (type(event.details["retry"]), type(event.details["ratio"])) == (bool, float)


def test_patch_updates_like_put(staff_client):
    event = SystemEventFactory(details={"a": 1})

    response = staff_client.patch(
        f"/api/events/{event.id}", {"details": None, "message": "new"}, format="json"
    )

    event.refresh_from_db()
    assert response.status_code == 200
    assert (event.details, event.message) == (None, "new")
    assert response.json() == event_json(event)


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({"severity": "fatal"}, {"severity": ['"fatal" is not a valid choice.']}),
        ({"event_type": ""}, {"event_type": ["This field may not be blank."]}),
        ({"message": "\x00"}, {"message": ["Null characters are not allowed."]}),
        ({"details": ["x"]}, {"details": ["Must be a JSON object."]}),
        ({"event_type": None}, {"event_type": ["This field may not be null."]}),
        ({"source": "s" * 101}, {"source": ["Ensure this field has no more than 100 characters."]}),
        (
            {"timestamp": "2026-01-01T00:00:00Z", "message": 1},
            {
                "timestamp": ["Unknown field: this endpoint does not take it."],
                "message": ["Expected a JSON string, got a number."],
            },
        ),
        (["x"], {"non_field_errors": ["Expected a JSON object, got an array."]}),
    ],
)
def test_update_refuses_invalid_input(staff_client, payload, errors):
    event = SystemEventFactory(severity="info")

    response = staff_client.put(f"/api/events/{event.id}", payload, format="json")

    assert response.status_code == 400
    assert response.json() == errors
    assert SystemEvent.objects.get() == event
    assert SystemEvent.objects.get().severity == "info"


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_changes_by_a_non_staff_user_are_403(api_client, method):
    event = SystemEventFactory(severity="info")

    response = getattr(api_client, method)(
        f"/api/events/{event.id}", {"severity": "error"}, format="json"
    )

    assert response.status_code == 403
    assert response.json() == FORBIDDEN
    assert SystemEvent.objects.get().severity == "info"


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_changes_to_an_unknown_event_are_404(staff_client, method):
    response = getattr(staff_client, method)(
        "/api/events/999", {"severity": "error"}, format="json"
    )

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_delete_by_staff(staff_client):
    event = SystemEventFactory()

    response = staff_client.delete(f"/api/events/{event.id}")

    assert response.status_code == 204
    assert response.content == b""
    assert not SystemEvent.objects.exists()


def test_type_lists_one_type(api_client):
    now = datetime.now(UTC)
    deploys = [
        SystemEventFactory(event_type="deploy", timestamp=now - timedelta(minutes=n))
        for n in range(2)
    ]
    SystemEventFactory(event_type="health_check")

    response = api_client.get("/api/events/type/deploy")

    assert response.status_code == 200
    assert response.json() == page(deploys)


def test_type_list_takes_the_list_filters_and_pagination(api_client):
    now = datetime.now(UTC)
    error = SystemEventFactory(event_type="deploy", severity="error", timestamp=now)
    SystemEventFactory(event_type="deploy", severity="info", timestamp=now - timedelta(minutes=1))
    older_error = SystemEventFactory(
        event_type="deploy", severity="error", timestamp=now - timedelta(minutes=2)
    )

    response = api_client.get("/api/events/type/deploy?severity=error&limit=1")

    assert response.json() == page(
        [error],
        count=2,
        next_url="http://testserver/api/events/type/deploy?limit=1&offset=1&severity=error",
    )
    assert api_client.get(
        "/api/events/type/deploy?severity=error&ordering=timestamp"
    ).json() == page([older_error, error])


def test_type_with_a_nul_character_is_400(api_client):
    response = api_client.get("/api/events/type/a%00b")

    assert response.status_code == 400
    assert response.json() == {"event_type": ["Null characters are not allowed."]}


def test_type_list_is_answered_from_the_cache_byte_for_byte(api_client, django_assert_num_queries):
    SystemEventFactory(event_type="deploy")
    first = api_client.get("/api/events/type/deploy")

    with django_assert_num_queries(0):
        second = api_client.get("/api/events/type/deploy")

    assert second.content == first.content


def test_bulk_creates_every_event_with_its_audit_record(
    api_client, django_capture_on_commit_callbacks
):
    day = datetime.now(UTC).date() - timedelta(days=2)
    payload = [
        {"event_type": "deploy", "severity": "info", "message": f"step {n}", "details": {"n": n}}
        for n in range(3)
    ] + [
        {
            "event_type": "backup",
            "severity": "error",
            "message": "m",
            "timestamp": f"{day}T00:00:00Z",
        }
    ]

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/events/bulk", payload, format="json")

    assert response.status_code == 201
    events = list(SystemEvent.objects.order_by("id"))
    assert response.json() == [event_json(event) for event in events]
    assert [event.message for event in events] == ["step 0", "step 1", "step 2", "m"]
    assert [event.details for event in events] == [{"n": 0}, {"n": 1}, {"n": 2}, None]
    assert events[3].timestamp == datetime(day.year, day.month, day.day, tzinfo=UTC)
    records = AuditLog.objects.filter(table_name="system_events", operation="CREATE")
    assert sorted(records.values_list("record_id", flat=True)) == sorted(
        str(event.id) for event in events
    )


def test_bulk_is_all_or_nothing(api_client):
    payload = [VALID, {**VALID, "severity": "fatal"}, VALID, {**VALID, "message": "\x00"}]

    response = api_client.post("/api/events/bulk", payload, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "1": {"severity": ['"fatal" is not a valid choice.']},
        "3": {"message": ["Null characters are not allowed."]},
    }
    assert not SystemEvent.objects.exists()


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        (
            [VALID] * 1001,
            {"non_field_errors": ["Ensure this field has no more than 1000 elements."]},
        ),
        ([], {"non_field_errors": ["This list may not be empty."]}),
        (VALID, {"non_field_errors": ["Expected a JSON array, got an object."]}),
    ],
)
def test_bulk_refuses_oversized_empty_or_non_list_bodies(api_client, payload, errors):
    response = api_client.post("/api/events/bulk", payload, format="json")

    assert response.status_code == 400
    assert response.json() == errors
    assert not SystemEvent.objects.exists()


@pytest.mark.parametrize("content_type", ["application/json", "application/x-ndjson"])
def test_bulk_refuses_an_empty_body_saying_so(api_client, content_type):
    response = api_client.post("/api/events/bulk", b"", content_type=content_type)

    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["The body is empty: send a JSON array of events, or NDJSON lines."]
    }


def test_bulk_of_exactly_1000_is_accepted(api_client):
    response = api_client.post("/api/events/bulk", [VALID] * 1000, format="json")

    assert response.status_code == 201
    assert len(response.json()) == 1000
    assert SystemEvent.objects.count() == 1000


@pytest.mark.parametrize(
    "path", ["/api/events/", "/api/events/stats/", "/api/events/type/deploy/", "/api/events/{id}/"]
)
def test_paths_work_with_a_trailing_slash(api_client, path):
    event = SystemEventFactory(event_type="deploy")

    response = api_client.get(path.format(id=event.id))

    assert response.status_code == 200


def test_create_and_bulk_with_a_trailing_slash_are_not_redirected(api_client):
    assert api_client.post("/api/events/", VALID, format="json").status_code == 201
    assert api_client.post("/api/events/bulk/", [VALID], format="json").status_code == 201
    assert SystemEvent.objects.count() == 2


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("timestamp_before=0187-02-19T10:39:39.899%2B23:12", 200),
        ("timestamp_after=0042-11-26T03:23:38-19:10", 200),
        ("timestamp_after=0001-01-01T00:00:00%2B01:00", 400),
    ],
)
def test_time_filters_take_any_iso_offset(api_client, query, status):
    for path in ["/api/events", "/api/events/type/deploy", "/api/events/stats"]:
        assert api_client.get(f"{path}?{query}").status_code == status


def test_filtered_list_queries_use_no_distinct(api_client):
    SystemEventFactory(severity="error")

    with CaptureQueriesContext(connection) as queries:
        api_client.get("/api/events?event_type=health_check&severity=error&severity=critical")

    assert [query["sql"] for query in queries if "DISTINCT" in query["sql"]] == []


@pytest.mark.parametrize("path", ["/api/events/", "/api/tasks/", "/api/projects/", "/api/audit/"])
def test_an_id_longer_than_any_id_is_a_404(staff_client, path):
    response = staff_client.get(path + "1" * 5000)

    assert response.status_code == 404
