"""Every error status the API answers is one the operation declares in the OpenAPI schema, with
the body the schema declares for it: field messages or a detail for a 400, a detail for every
other status. Each error is provoked for real on a live server and checked against the served
schema."""

import pytest
import requests
import schemathesis
from rest_framework.throttling import SimpleRateThrottle

from brain.tokens import token_create
from events.tests.factories import SystemEventFactory
from scheduling.tests.factories import ProjectFactory, ScheduledTaskFactory

pytestmark = pytest.mark.django_db(transaction=True)  # a live server on its own connections

MISSING = 2**31 - 1


@pytest.fixture
def served(live_server):
    """The schema the live server serves, and a function sending a request to that server."""
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema?format=json")

    def send(method, path, token=None, **kwargs):
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Token {token}"
        return requests.request(
            method, f"{live_server.url}{path}", headers=headers, timeout=10, **kwargs
        )

    return schema, send


@pytest.fixture
def tokens(staff_user, user):
    return {
        "staff": token_create(user=staff_user),
        "user": token_create(user=user),
    }


def _check(schema, method, template, response, status, body):
    """The response has `status` and `body`, its operation declares the status, and the body
    matches the schema declared for it."""
    assert (response.status_code, response.json()) == (status, body)
    operation = schema[template][method]
    assert str(status) in operation.definition.raw["responses"]
    operation.validate_response(response)


def test_bad_input_is_field_messages_or_a_detail_as_declared(served, tokens):
    schema, send = served
    staff = tokens["staff"]

    cases = [
        (
            "POST",
            "/api/projects",
            send("POST", "/api/projects", staff, json={"name": ""}),
            {"name": ["This field may not be blank."]},
        ),
        (
            "POST",
            "/api/events/bulk",
            send("POST", "/api/events/bulk", staff, json=[{"severity": "info"}]),
            {
                "0": {
                    "event_type": ["This field is required."],
                    "message": ["This field is required."],
                }
            },
        ),
        (
            "POST",
            "/api/events",
            send(
                "POST",
                "/api/events",
                staff,
                data=b"nope",
                headers={"Content-Type": "application/json"},
            ),
            {"detail": "JSON parse error - Expecting value: line 1 column 1 (char 0)"},
        ),
        (
            "GET",
            "/api/events",
            send("GET", "/api/events?sevrity=error", staff),
            {
                "sevrity": [
                    "Unknown query parameter. Known: event_type, severity, source, "
                    "timestamp_after, timestamp_before, search, ordering, limit, offset, format."
                ]
            },
        ),
    ]

    for method, template, response, body in cases:
        _check(schema, method, template, response, 400, body)


def test_a_session_has_no_token_to_revoke_as_declared(served, client, staff_user):
    schema, send = served
    client.force_login(staff_user)
    csrf = "c" * 32

    response = send(
        "DELETE",
        "/api/auth/token",
        headers={
            "Cookie": f"sessionid={client.cookies['sessionid'].value}; csrftoken={csrf}",
            "X-CSRFToken": csrf,
        },
    )

    _check(
        schema,
        "DELETE",
        "/api/auth/token",
        response,
        400,
        {
            "detail": "This request is authenticated by a session, not an API token: "
            "there is no token to revoke."
        },
    )


def test_every_other_error_is_a_detail_as_declared(
    served, tokens, staff_user, settings, monkeypatch
):
    schema, send = served
    staff, user = tokens["staff"], tokens["user"]
    read = token_create(user=staff_user, scope="read")
    event = SystemEventFactory()
    project = ProjectFactory()
    ScheduledTaskFactory(user=project.user, project=project)

    cases = [
        (
            "GET",
            "/api/auth/me",
            send("GET", "/api/auth/me"),
            401,
            {"detail": "Authentication credentials were not provided."},
        ),
        (
            "POST",
            "/api/auth/token",
            send("POST", "/api/auth/token", "no-such-token", json={}),
            401,
            {"detail": "Invalid token."},
        ),
        (
            "DELETE",
            "/api/auth/token",
            send("DELETE", "/api/auth/token"),
            401,
            {"detail": "Authentication credentials were not provided."},
        ),
        (
            "DELETE",
            "/api/auth/tokens",
            send("DELETE", "/api/auth/tokens", read),
            403,
            {"detail": "This API token's scope (read) does not allow this."},
        ),
        (
            "DELETE",
            "/api/events/{id}",
            send("DELETE", f"/api/events/{event.pk}", user),
            403,
            {"detail": "You do not have permission to perform this action."},
        ),
        (
            "GET",
            "/api/tasks/{id}",
            send("GET", f"/api/tasks/{MISSING}", staff),
            404,
            {"detail": "Not found."},
        ),
        (
            "GET",
            "/api/executions/stats",
            send("GET", f"/api/executions/stats?task_id={MISSING}", staff),
            404,
            {"detail": "Not found."},
        ),
        (
            "GET",
            "/api/events",
            send("GET", "/api/events", staff, headers={"Accept": "application/xml"}),
            406,
            {"detail": "Could not satisfy the request Accept header."},
        ),
        (
            "DELETE",
            "/api/projects/{id}",
            send("DELETE", f"/api/projects/{project.pk}", staff),
            409,
            {"detail": "This project has 1 task: delete or move it first."},
        ),
        (
            "POST",
            "/api/projects",
            send("POST", "/api/projects", staff, data=iter([b'{"name": "x"}'])),
            411,
            {
                "detail": "Length required: send the body with a Content-Length header "
                "(chunked transfer encoding is not accepted)."
            },
        ),
        (
            "POST",
            "/api/projects",
            send(
                "POST",
                "/api/projects",
                staff,
                data="name=x",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            ),
            415,
            {"detail": 'Unsupported media type "application/x-www-form-urlencoded" in request.'},
        ),
    ]
    for method, template, response, status, body in cases:
        _check(schema, method, template, response, status, body)

    settings.REQUEST_MAX_BODY_BYTES = 100
    response = send("PATCH", f"/api/projects/{project.pk}", staff, json={"name": "x" * 100})
    _check(
        schema,
        "PATCH",
        "/api/projects/{id}",
        response,
        413,
        {"detail": "Request body too large: the limit is 100 bytes."},
    )

    monkeypatch.setattr(
        SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, "user": "1/min"}
    )
    # One request a minute: three in a row span two windows at most, so one at least is refused.
    responses = [send("GET", "/api/skills", staff) for _ in range(3)]
    response = next(response for response in responses if response.status_code == 429)
    assert int(response.headers["Retry-After"]) > 0
    _check(
        schema,
        "GET",
        "/api/skills",
        response,
        429,
        {"detail": response.json()["detail"]},
    )
    assert response.json()["detail"].startswith("Request was throttled.")
