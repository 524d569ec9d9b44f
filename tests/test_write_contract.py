"""The write contract on every write endpoint: a field the endpoint does not take, a read-only
field and a value of the wrong JSON type are each a 400 naming the field, with nothing written and
no audit record; bodies are JSON only; an empty query parameter is a 400 naming it."""

import json

import pytest

from events.tests.factories import SystemEventFactory
from scheduling.tests.factories import (
    AgentFactory,
    ExecutionResultFactory,
    ProjectFactory,
    ScheduledTaskFactory,
)

from .support import stored_rows

pytestmark = pytest.mark.django_db

UNKNOWN = "Unknown field: this endpoint does not take it."
READ_ONLY = "Read-only field: it cannot be set."


@pytest.fixture
def world(staff_user):
    """One row of each kind, owned by the staff user, and the valid body of each write."""
    project = ProjectFactory(user=staff_user)
    task = ScheduledTaskFactory(user=staff_user, project=project)
    running = ExecutionResultFactory(task=task, status=None, ended_at=None, duration_ms=None)
    rows = {
        "event": SystemEventFactory(),
        "project": project,
        "task": task,
        "agent": AgentFactory(),
        "execution": ExecutionResultFactory(task=task),
        "running": running,
    }
    event = {"event_type": "deploy", "severity": "info", "message": "m"}
    rows["writes"] = [
        ("post", "/api/events", event),
        ("post", "/api/events/bulk", [event]),
        ("put", f"/api/events/{rows['event'].pk}", {"message": "m"}),
        ("patch", f"/api/events/{rows['event'].pk}", {"message": "m"}),
        ("post", "/api/projects", {"name": "p"}),
        ("put", f"/api/projects/{project.pk}", {"name": "p"}),
        ("patch", f"/api/projects/{project.pk}", {"name": "p"}),
        ("post", "/api/tasks", {"skill_name": "demo.echo", "schedule_cron": "* * * * *"}),
        (
            "put",
            f"/api/tasks/{task.pk}",
            {"skill_name": "demo.echo", "schedule_cron": "* * * * *"},
        ),
        ("patch", f"/api/tasks/{task.pk}", {"timeout_seconds": 5}),
        ("post", "/api/agents", {"name": "new-agent", "type": "coder"}),
        ("put", f"/api/agents/{rows['agent'].pk}", {"name": "renamed", "type": "coder"}),
        ("patch", f"/api/agents/{rows['agent'].pk}", {"status": "busy"}),
        ("post", f"/api/agents/{rows['agent'].pk}/heartbeat", {"status": "busy"}),
        ("post", "/api/executions", {"task_id": task.pk}),
        ("put", f"/api/executions/{running.pk}", {"task_id": task.pk}),
        ("patch", f"/api/executions/{running.pk}", {"worker": "w"}),
        ("post", f"/api/executions/{running.pk}/complete", {"status": "success"}),
        ("post", "/api/auth/token", {"username": "staff", "password": "staff-password-1"}),
    ]
    return rows


def _send(client, method, path, body):
    return getattr(client, method)(path, json.dumps(body), content_type="application/json")


def _with(body, extra):
    if isinstance(body, list):
        return [{**body[0], **extra}]
    return {**body, **extra}


def test_every_write_refuses_a_field_it_does_not_take(staff_client, world):
    before = stored_rows()

    answers = [
        (path, method, _send(staff_client, method, path, _with(body, {"mesage": "x"})))
        for method, path, body in world["writes"]
    ]

    for path, method, response in answers:
        expected = {"mesage": [UNKNOWN]}
        if path == "/api/events/bulk":
            expected = {"0": expected}
        assert (path, method, response.status_code, response.json()) == (
            path,
            method,
            400,
            expected,
        )
    assert stored_rows() == before


@pytest.mark.parametrize(
    ("method", "path", "body", "field", "message"),
    [
        # The event serializers take only what an event's writer sets: the rest is unknown.
        ("post", "/api/events", {"id": 7}, "id", UNKNOWN),
        (
            "patch",
            "/api/events/{event}",
            {"created_at": "2026-01-01T00:00:00Z"},
            "created_at",
            UNKNOWN,
        ),
        ("patch", "/api/projects/{project}", {"tasks_count": 99}, "tasks_count", READ_ONLY),
        ("patch", "/api/projects/{project}", {"id": 5}, "id", READ_ONLY),
        ("patch", "/api/tasks/{task}", {"claimed_by": "me"}, "claimed_by", READ_ONLY),
        (
            "patch",
            "/api/tasks/{task}",
            {"updated_at": "2026-01-01T00:00:00Z"},
            "updated_at",
            READ_ONLY,
        ),
        ("post", "/api/projects", {"user_id": 1}, "user_id", READ_ONLY),
        (
            "patch",
            "/api/agents/{agent}",
            {"last_active_at": "2026-01-01T00:00:00Z"},
            "last_active_at",
            READ_ONLY,
        ),
    ],
)
def test_a_read_only_field_is_refused(staff_client, world, method, path, body, field, message):
    path = path.format(**{name: getattr(row, "pk", None) for name, row in world.items()})
    base = {
        "/api/events": {"event_type": "deploy", "severity": "info", "message": "m"},
        "/api/projects": {"name": "p"},
    }.get(path, {})
    before = stored_rows()

    response = _send(staff_client, method, path, {**base, **body})

    assert (response.status_code, response.json()) == (400, {field: [message]})
    assert stored_rows() == before


@pytest.mark.parametrize(
    ("method", "path", "body", "field", "message"),
    [
        ("post", "/api/events", {"event_type": 0}, "event_type", "string, got a number"),
        ("post", "/api/events", {"event_type": 12.5}, "event_type", "string, got a number"),
        ("post", "/api/events", {"event_type": True}, "event_type", "string, got true"),
        ("post", "/api/events", {"message": ["m"]}, "message", "string, got an array"),
        ("post", "/api/events", {"severity": 1}, "severity", "string, got a number"),
        ("patch", "/api/events/{event}", {"source": {}}, "source", "string, got an object"),
        ("patch", "/api/tasks/{task}", {"timeout_seconds": "5"}, "timeout_seconds", "integer, "),
        ("patch", "/api/tasks/{task}", {"timeout_seconds": 5.0}, "timeout_seconds", "integer, "),
        ("patch", "/api/tasks/{task}", {"timeout_seconds": True}, "timeout_seconds", "integer, "),
        ("patch", "/api/tasks/{task}", {"project_id": "1"}, "project_id", "integer, got a string"),
        ("patch", "/api/tasks/{task}", {"next_run_at": 0}, "next_run_at", "string, got a number"),
        ("patch", "/api/executions/{running}", {"duration_ms": "1"}, "duration_ms", "integer, "),
        ("post", "/api/agents/{agent}/heartbeat", {"status": 1}, "status", "string, got a number"),
        ("post", "/api/auth/token", {"username": 1, "password": "p"}, "username", "string, "),
    ],
)
def test_a_value_of_another_json_type_is_refused(
    staff_client, world, method, path, body, field, message
):
    path = path.format(**{name: getattr(row, "pk", None) for name, row in world.items()})
    base = {"event_type": "deploy", "severity": "info", "message": "m"}
    if path != "/api/events":
        base = {"password": "p"} if path == "/api/auth/token" else {}
    before = stored_rows()

    response = _send(staff_client, method, path, {**base, **body})

    assert response.status_code == 400
    assert list(response.json()) == [field]
    [error] = response.json()[field]
    assert error.startswith(f"Expected a JSON {message}")
    assert stored_rows() == before


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (
            "multipart/form-data; boundary=B",
            '--B\r\nContent-Disposition: form-data; name="message"\r\n\r\n\x9c\r\n--B--\r\n',
        ),
        ("application/x-www-form-urlencoded", "message=%C2%9C"),
        ("text/plain", '{"message": "x"}'),
    ],
)
def test_a_body_that_is_not_json_is_unsupported(staff_client, world, content_type, body):
    before = stored_rows()

    response = staff_client.generic(
        "PUT", f"/api/events/{world['event'].pk}", body, content_type=content_type
    )

    assert response.status_code == 415
    assert response.json() == {"detail": f'Unsupported media type "{content_type}" in request.'}
    assert stored_rows() == before


@pytest.mark.parametrize("charset", ["bogus", "rot13", "base64", "undefined"])
def test_a_charset_python_does_not_know_is_unsupported_on_every_write(staff_client, world, charset):
    before = stored_rows()

    answers = [
        getattr(staff_client, method)(
            path, json.dumps(body), content_type=f"application/json; charset={charset}"
        )
        for method, path, body in world["writes"]
    ]

    assert [(response.status_code, response.json()) for response in answers] == [
        (415, {"detail": f'Unsupported charset "{charset}" in request.'})
    ] * len(world["writes"])
    assert stored_rows() == before


def test_a_charset_that_is_no_text_encoding_is_unsupported_before_a_login(anon_client):
    response = anon_client.post(
        "/api/auth/token",
        json.dumps({"username": "a", "password": "b"}),
        content_type="application/json; charset=rot13",
    )

    assert (response.status_code, response.json()) == (
        415,
        {"detail": 'Unsupported charset "rot13" in request.'},
    )


def test_a_json_body_is_read_in_the_charset_it_declares(staff_client, world):
    body = json.dumps({"name": "caf\u00e9"}, ensure_ascii=False).encode("latin-1")

    response = staff_client.post(
        "/api/projects", body, content_type="application/json; charset=latin-1"
    )

    assert (response.status_code, response.json()["name"]) == (201, "caf\u00e9")


@pytest.mark.parametrize(
    ("charset", "detail"),
    [
        ("latin-1", "NDJSON is UTF-8: send it without another charset."),
        ("utf-16", "NDJSON is UTF-8: send it without another charset."),
        ("bogus", 'Unsupported charset "bogus" in request.'),
    ],
)
def test_an_ndjson_body_in_another_charset_than_utf_8_is_unsupported(
    staff_client, world, charset, detail
):
    before = stored_rows()
    # In Latin-1, the bytes of "\u00c3\u00a9"; read as UTF-8, they would be "\u00e9".
    line = json.dumps(
        {"event_type": "deploy", "severity": "info", "message": "\u00c3\u00a9"}, ensure_ascii=False
    )

    response = staff_client.post(
        "/api/events/bulk",
        line.encode("latin-1"),
        content_type=f"application/x-ndjson; charset={charset}",
    )

    assert (response.status_code, response.json()) == (415, {"detail": detail})
    assert stored_rows() == before


LISTS = [
    ("/api/events", ["limit", "offset", "ordering", "timestamp_before", "severity", "search"]),
    ("/api/events/type/deploy", ["limit", "source"]),
    ("/api/events/stats", ["timestamp_after", "event_type"]),
    ("/api/projects", ["limit", "name", "user_id"]),
    ("/api/tasks", ["offset", "status", "project_id"]),
    ("/api/tasks/pending", ["limit"]),
    ("/api/agents", ["name", "status"]),
    ("/api/executions", ["status", "task_id", "started_after"]),
    ("/api/executions/stats", ["task_id", "started_before"]),
    ("/api/audit", ["operation", "record_id", "timestamp_after"]),
    ("/api/skills", ["limit"]),
]


@pytest.mark.parametrize(("path", "names"), LISTS)
def test_an_empty_query_parameter_is_refused_naming_it(staff_client, path, names):
    for name in names:
        response = staff_client.get(f"{path}?{name}=")

        assert (name, response.status_code, response.json()) == (
            name,
            400,
            {name: ["This parameter may not be empty: give a value or leave it out."]},
        )


def test_an_empty_query_parameter_of_an_anonymous_request_is_still_a_401(anon_client):
    assert anon_client.get("/api/events?limit=").status_code == 401


def test_the_schema_states_the_contract(anon_client):
    schema = anon_client.get("/api/schema?format=json").json()
    components = schema["components"]["schemas"]
    parameters = {
        parameter["name"]: parameter["schema"]
        for parameter in schema["paths"]["/api/events"]["get"]["parameters"]
    }

    assert components["PatchedProjectRequest"]["additionalProperties"] is False
    assert components["SystemEventCreateRequest"]["additionalProperties"] is False
    assert "additionalProperties" not in components["Project"]
    assert parameters["search"] == {"type": "string", "minLength": 1}
    assert "Write contract" in schema["info"]["description"]


@pytest.mark.parametrize("action", ["run", "disable", "enable"])
def test_a_task_action_refuses_a_body_rather_than_ignore_it(staff_client, world, action):
    task = world["task"]
    before = stored_rows()

    refused = _send(staff_client, "post", f"/api/tasks/{task.pk}/{action}", {"status": "x"})
    after_refusal = stored_rows()
    accepted = staff_client.post(f"/api/tasks/{task.pk}/{action}")

    assert (refused.status_code, refused.json()) == (400, {"status": [UNKNOWN]})
    assert after_refusal == before
    assert accepted.status_code == (202 if action == "run" else 200)
