"""Creating events from outside: one declaration of the input rules (events.schemas) for
`POST /api/events` and `POST /api/events/bulk` in JSON and NDJSON, all or nothing, audited, with
the caches invalidated after commit and `Prefer: return=minimal`."""

import json
from datetime import UTC, datetime, timedelta

import msgspec
import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from audit.models import AuditLog
from events import views
from events.models import Severity, SystemEvent
from events.schemas import SystemEventCreate
from tests.audit_paths.support import (
    audit_mark,
    client_meta,
    from_request,
    origins_after,
    records_after,
    stored,
)

from .conftest import event_json

pytestmark = pytest.mark.django_db

VALID = {"event_type": "deploy", "severity": "info", "message": "m"}
UNKNOWN = "Unknown field: this endpoint does not take it."
NDJSON = "application/x-ndjson"


def _rows():
    return [
        list(SystemEvent.objects.order_by("pk").values()),
        list(AuditLog.objects.order_by("pk").values()),
    ]


def _ndjson(items):
    return "\n".join(json.dumps(item) for item in items) + "\n"


REFUSED = [
    ({"id": 7}, {"id": [UNKNOWN]}),
    ({"created_at": "2026-01-01T00:00:00Z"}, {"created_at": [UNKNOWN]}),
    ({"mesage": "x"}, {"mesage": [UNKNOWN]}),
    ({"event_type": 0}, {"event_type": ["Expected a JSON string, got a number."]}),
    ({"message": True}, {"message": ["Expected a JSON string, got true."]}),
    ({"source": {}}, {"source": ["Expected a JSON string, got an object."]}),
    ({"severity": 1}, {"severity": ["Expected a JSON string, got a number."]}),
    ({"severity": "fatal"}, {"severity": ['"fatal" is not a valid choice.']}),
    ({"event_type": None}, {"event_type": ["This field may not be null."]}),
    ({"event_type": ""}, {"event_type": ["This field may not be blank."]}),
    ({"message": "a\x00"}, {"message": ["Null characters are not allowed."]}),
    ({"details": [1]}, {"details": ["Must be a JSON object."]}),
    (
        {"details": {"k": "\x00"}, "source": "s" * 101},
        {
            "details": ["Null characters are not allowed."],
            "source": ["Ensure this field has no more than 100 characters."],
        },
    ),
    (
        {"details": json.loads('{"k": ' * 33 + "1" + "}" * 33)},
        {"details": ["Nested more than 32 levels deep."]},
    ),
    (
        {"timestamp": 5},
        {"timestamp": ["Expected a JSON string, got a number."]},
    ),
    (
        {"timestamp": "yesterday", "extra": 1},
        {
            "extra": [UNKNOWN],
            "timestamp": [
                "Datetime has wrong format. Use one of these formats instead: "
                "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
            ],
        },
    ),
]


@pytest.mark.parametrize(("change", "errors"), REFUSED)
def test_one_and_bulk_refuse_alike_naming_the_field(api_client, change, errors):
    before = _rows()

    one = api_client.post("/api/events", {**VALID, **change}, format="json")
    bulk = api_client.post("/api/events/bulk", [VALID, {**VALID, **change}], format="json")
    lines = api_client.generic(
        "POST", "/api/events/bulk", _ndjson([VALID, {**VALID, **change}]), content_type=NDJSON
    )

    assert (one.status_code, one.json()) == (400, errors)
    assert (bulk.status_code, bulk.json()) == (400, {"1": errors})
    assert (lines.status_code, lines.json()) == (400, {"line 2": errors})
    assert _rows() == before


@pytest.mark.parametrize(
    ("item", "got"), [([VALID], "an array"), ("event", "a string"), (3, "a number"), (None, "null")]
)
def test_an_item_that_is_not_an_object_is_refused(api_client, item, got):
    response = api_client.post("/api/events/bulk", [VALID, item], format="json")

    assert (response.status_code, response.json()) == (
        400,
        {"1": {"non_field_errors": [f"Expected a JSON object, got {got}."]}},
    )
    assert not SystemEvent.objects.exists()


def test_a_missing_field_is_required_in_bulk_too(api_client):
    response = api_client.post("/api/events/bulk", [{"severity": "info"}], format="json")

    assert response.status_code == 400
    assert response.json() == {
        "0": {"event_type": ["This field is required."], "message": ["This field is required."]}
    }


def test_prefer_return_minimal_answers_the_ids_and_count(api_client):
    response = api_client.post(
        "/api/events/bulk",
        [VALID, {**VALID, "message": "second"}],
        format="json",
        HTTP_PREFER="respond-async, return=minimal",
    )

    ids = list(SystemEvent.objects.order_by("id").values_list("id", flat=True))
    assert response.status_code == 201
    assert response.json() == {"ids": ids, "count": 2}
    assert response["Preference-Applied"] == "return=minimal"


@pytest.mark.parametrize("prefer", ['return="minimal"', "RETURN = minimal; x=1"])
def test_prefer_return_minimal_may_be_quoted_spaced_or_with_parameters(api_client, prefer):
    response = api_client.post("/api/events/bulk", [VALID], format="json", HTTP_PREFER=prefer)

    assert response.json() == {"ids": [SystemEvent.objects.get().id], "count": 1}


@pytest.mark.parametrize("prefer", [None, "return=representation", "return=minimalist"])
def test_without_prefer_the_created_events_are_answered(api_client, prefer):
    headers = {} if prefer is None else {"HTTP_PREFER": prefer}
    response = api_client.post("/api/events/bulk", [VALID], format="json", **headers)

    assert response.status_code == 201
    assert response.json() == [event_json(SystemEvent.objects.get())]
    assert "Preference-Applied" not in response


def test_bulk_audits_each_event_as_a_single_create_does(api_client, user):
    api_client.post("/api/events", {**VALID, "details": {"k": 1}, "source": "s"}, format="json")
    api_client.post(
        "/api/events/bulk", [{**VALID, "details": {"k": 1}, "source": "s"}] * 2, format="json"
    )

    one, *bulk = AuditLog.objects.filter(table_name="system_events").order_by("id")
    events = list(SystemEvent.objects.order_by("id"))
    assert [record.record_id for record in [one, *bulk]] == [str(event.id) for event in events]
    for record in bulk:
        assert (record.operation, record.user_id) == ("CREATE", str(user.id))
        assert record.changed_fields == {
            **one.changed_fields,
            "timestamp": record.changed_fields["timestamp"],
            "created_at": record.changed_fields["created_at"],
        }
        assert set(record.changed_fields) == set(one.changed_fields)


def test_stats_and_type_lists_are_right_when_the_bulk_returns(
    api_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post("/api/events", VALID, format="json")
    assert api_client.get("/api/events/stats").json()["total"] == 1
    assert api_client.get("/api/events/type/deploy").json()["count"] == 1

    with django_capture_on_commit_callbacks(execute=True):
        api_client.post(
            "/api/events/bulk", [VALID] * 3, format="json", HTTP_PREFER="return=minimal"
        )
        api_client.generic("POST", "/api/events/bulk", _ndjson([VALID] * 2), content_type=NDJSON)

    assert api_client.get("/api/events/stats").json()["total"] == 6
    assert api_client.get("/api/events/type/deploy").json()["count"] == 6


def test_ndjson_stores_every_line_in_chunks(api_client, monkeypatch):
    monkeypatch.setattr(views, "NDJSON_CHUNK", 2)
    body = _ndjson([{**VALID, "message": f"m{n}"} for n in range(5)]) + "\n\n"

    response = api_client.generic(
        "POST", "/api/events/bulk", body, content_type=NDJSON, HTTP_PREFER="return=minimal"
    )

    events = list(SystemEvent.objects.order_by("id"))
    assert response.status_code == 201
    assert response.json() == {"ids": [event.id for event in events], "count": 5}
    assert [event.message for event in events] == [f"m{n}" for n in range(5)]
    assert AuditLog.objects.filter(table_name="system_events", operation="CREATE").count() == 5


def test_ndjson_is_all_or_nothing_across_chunks(api_client, monkeypatch):
    monkeypatch.setattr(views, "NDJSON_CHUNK", 2)
    items = [VALID] * 4 + [{**VALID, "severity": "fatal"}, VALID, {**VALID, "message": ""}]
    before = _rows()

    response = api_client.generic("POST", "/api/events/bulk", _ndjson(items), content_type=NDJSON)

    assert response.status_code == 400
    assert response.json() == {
        "line 5": {"severity": ['"fatal" is not a valid choice.']},
        "line 7": {"message": ["This field may not be blank."]},
    }
    assert _rows() == before


def test_ndjson_line_that_is_not_json_is_named(api_client):
    body = json.dumps(VALID) + "\n{not json\n"

    response = api_client.generic("POST", "/api/events/bulk", body, content_type=NDJSON)

    assert response.status_code == 400
    assert response.json()["detail"].startswith("Line 2: JSON parse error - ")
    assert not SystemEvent.objects.exists()


def test_a_key_repeated_in_a_bulk_item_is_refused_naming_the_item(api_client):
    before = _rows()
    body = (
        f"[{json.dumps(VALID)},\n {json.dumps(VALID)} , "
        '{"event_type": "x", "severity": "info", "message": "m",'
        ' "details": {"k": [{"a": 1, "a": 2}]}}]'
    )

    response = api_client.post("/api/events/bulk", body, content_type="application/json")

    assert (response.status_code, response.json()) == (
        400,
        {"detail": 'Item 2: JSON parse error - the key "a" appears twice in one object.'},
    )
    assert _rows() == before


def test_a_key_repeated_on_an_ndjson_line_is_refused_naming_the_line(api_client):
    before = _rows()
    body = (
        json.dumps(VALID)
        + "\n\n"
        + '{"event_type": "x", "severity": "info", "message": "first", "message": "second"}\n'
    )

    response = api_client.generic("POST", "/api/events/bulk", body, content_type=NDJSON)

    assert (response.status_code, response.json()) == (
        400,
        {"detail": 'Line 3: JSON parse error - the key "message" appears twice in one object.'},
    )
    assert _rows() == before


def test_keys_repeated_only_across_objects_are_taken(api_client):
    item = {**VALID, "details": {"k": {"k": 1}, "list": [{"k": 2}, {"k": 3}]}}

    bulk = api_client.post("/api/events/bulk", [item, item], format="json")
    ndjson = api_client.generic("POST", "/api/events/bulk", _ndjson([item]), content_type=NDJSON)

    assert (bulk.status_code, ndjson.status_code) == (201, 201)
    assert list(SystemEvent.objects.values_list("details", flat=True)) == [item["details"]] * 3


def test_ndjson_over_its_line_limit_is_refused(api_client, monkeypatch):
    monkeypatch.setattr(views, "NDJSON_MAX_EVENTS", 3)

    response = api_client.generic(
        "POST", "/api/events/bulk", _ndjson([VALID] * 4), content_type=NDJSON
    )

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Ensure there are no more than 3 lines."]}
    assert not SystemEvent.objects.exists()


def test_ndjson_has_a_body_limit_of_its_own(api_client, settings):
    settings.REQUEST_MAX_NDJSON_BYTES = 100
    settings.REQUEST_MAX_BODY_BYTES = 10
    small = _ndjson([VALID])
    large = _ndjson([VALID] * 3)

    accepted = api_client.generic("POST", "/api/events/bulk", small, content_type=NDJSON)
    refused = api_client.generic("POST", "/api/events/bulk", large, content_type=NDJSON)

    assert accepted.status_code == 201
    assert (refused.status_code, refused.json()) == (
        413,
        {"detail": "Request body too large: the limit is 100 bytes."},
    )
    assert SystemEvent.objects.count() == 1


def test_an_empty_ndjson_body_is_refused(api_client):
    response = api_client.generic("POST", "/api/events/bulk", "\n", content_type=NDJSON)

    assert (response.status_code, response.json()) == (
        400,
        {"non_field_errors": ["This list may not be empty."]},
    )


def test_bulk_takes_json_and_ndjson_only(api_client):
    response = api_client.generic(
        "POST", "/api/events/bulk", json.dumps([VALID]), content_type="text/plain"
    )

    assert response.status_code == 415
    assert not SystemEvent.objects.exists()


def test_ndjson_records_one_create_per_event_by_the_token_user(
    api_client, user, django_capture_on_commit_callbacks
):
    mark = audit_mark()
    body = _ndjson([{**VALID, "message": f"m{n}", "details": {"n": n}} for n in range(3)])

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.generic(
            "POST", "/api/events/bulk", body, content_type=NDJSON, **client_meta("req-ndjson")
        )

    assert response.status_code == 201
    events = SystemEvent.objects.order_by("id")
    # Streamed: the answer is written as the events are stored (events.ndjson).
    body = b"".join(response.streaming_content)
    assert json.loads(body) == [event_json(event) for event in events]
    assert (response["Content-Type"], response["Content-Length"]) == (
        "application/json",
        str(len(body)),
    )
    assert records_after(mark) == [
        ("CREATE", "system_events", str(event.pk), stored(event)) for event in events
    ]
    assert origins_after(mark) == [from_request(user, response)] * 3


@pytest.mark.parametrize("offset", ["-23:03", "+18:00"])
def test_a_timestamp_offset_postgresql_cannot_store_is_taken_as_utc(api_client, offset):
    day = (timezone.now() - timedelta(days=3)).date()
    item = {**VALID, "timestamp": f"{day}T05:37:03{offset}"}

    one = api_client.post("/api/events", item, format="json")
    bulk = api_client.post("/api/events/bulk", [item], format="json")

    expected = datetime.fromisoformat(item["timestamp"]).astimezone(UTC)
    assert (one.status_code, bulk.status_code) == (201, 201)
    assert [event.timestamp for event in SystemEvent.objects.all()] == [expected, expected]


def test_the_openapi_description_of_a_new_event_is_the_enforced_one(api_client):
    schema = api_client.get("/api/schema?format=json").json()
    components = schema["components"]["schemas"]
    described = components["SystemEventCreateRequest"]
    enforced = msgspec.json.schema_components([SystemEventCreate])[1]["SystemEventCreate"]
    bulk = schema["paths"]["/api/events/bulk"]["post"]["requestBody"]["content"]
    severity = described["properties"]["severity"]["$ref"].rsplit("/", 1)[-1]

    assert schema["paths"]["/api/events"]["post"]["requestBody"]["content"] == {
        "application/json": {"schema": {"$ref": "#/components/schemas/SystemEventCreateRequest"}}
    }
    assert bulk["application/json"]["schema"]["items"] == {
        "$ref": "#/components/schemas/SystemEventCreateRequest"
    }
    assert bulk["application/json"]["schema"]["maxItems"] == 1000
    assert set(described["properties"]) == set(enforced["properties"])
    assert set(described["required"]) == set(enforced["required"])
    assert described["additionalProperties"] is False
    assert set(components[severity]["enum"]) == set(Severity.values)
    assert described["properties"]["event_type"] == {
        "type": "string",
        "maxLength": 50,
        "minLength": 1,
    }
    assert described["properties"]["message"]["minLength"] == 1
    assert (
        described["properties"]["source"]["maxLength"],
        described["properties"]["source"]["nullable"],
    ) == (
        100,
        True,
    )
    assert described["properties"]["details"]["nullable"] is True
    assert "nullable" not in described["properties"]["timestamp"]


def test_a_null_timestamp_is_refused_on_every_path(api_client):
    event = {"event_type": "deploy", "severity": "info", "message": "m", "timestamp": None}

    single = api_client.post("/api/events", event, format="json")
    bulk = api_client.post("/api/events/bulk", [event], format="json")

    assert (single.status_code, single.json()) == (
        400,
        {"timestamp": ["This field may not be null."]},
    )
    assert (bulk.status_code, bulk.json()) == (
        400,
        {"0": {"timestamp": ["This field may not be null."]}},
    )
    assert not SystemEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_bulk_whose_audit_records_fail_stores_no_event(api_client):
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE audit_logs ADD CONSTRAINT test_refuse_events"
            " CHECK (table_name <> 'system_events')"
        )
    try:
        with pytest.raises(psycopg.errors.CheckViolation, match="test_refuse_events"):
            api_client.post(
                "/api/events/bulk",
                [{"event_type": "deploy", "severity": "info", "message": "m"}] * 3,
                format="json",
            )
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE audit_logs DROP CONSTRAINT test_refuse_events")

    assert not SystemEvent.objects.exists()
