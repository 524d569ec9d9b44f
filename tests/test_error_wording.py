"""Errors in the API's own words, worded alike on every endpoint: a body of another JSON type
than the endpoint takes, a body the JSON parser refuses, a row that does not exist (or is another
user's), a choice that is none of the field's, in a body or in a query string."""

import pytest

from audit.models import AuditLog
from events.models import SystemEvent
from events.tests.factories import SystemEventFactory
from scheduling.models import Agent, ExecutionResult, Project, ScheduledTask
from scheduling.tests.factories import (
    AgentFactory,
    ExecutionResultFactory,
    ProjectFactory,
    ScheduledTaskFactory,
)

pytestmark = pytest.mark.django_db

NOT_FOUND = {"detail": "Not found."}
BYTE_ORDER_MARK = (
    "JSON parse error - the body starts with a byte-order mark; send UTF-8 without one."
)
DUPLICATE_MESSAGE = 'JSON parse error - the key "message" appears twice in one object.'
NOT_FINITE = "A number too large (beyond 1.8e308 in size), infinity or NaN: numbers must be finite."


def _rows():
    """Every row the API could write, and the audit trail, as comparable values."""
    return [
        list(model.objects.order_by("pk").values())
        for model in (SystemEvent, Project, ScheduledTask, Agent, ExecutionResult, AuditLog)
    ]


@pytest.fixture
def world(staff_user, other_user):
    """One row of each kind owned by the staff user, and a task of another user's."""
    project = ProjectFactory(user=staff_user)
    task = ScheduledTaskFactory(user=staff_user, project=project)
    return {
        "event": SystemEventFactory(),
        "project": project,
        "task": task,
        "agent": AgentFactory(),
        "execution": ExecutionResultFactory(task=task, status=None, ended_at=None),
        "others_project": ProjectFactory(user=other_user),
        "others_task": ScheduledTaskFactory(user=other_user),
    }


def _writes(world):
    """(method, path) of every endpoint that reads a JSON body, on rows that exist."""
    return [
        ("post", "/api/events"),
        ("put", f"/api/events/{world['event'].pk}"),
        ("patch", f"/api/events/{world['event'].pk}"),
        ("post", "/api/projects"),
        ("put", f"/api/projects/{world['project'].pk}"),
        ("patch", f"/api/projects/{world['project'].pk}"),
        ("post", "/api/tasks"),
        ("put", f"/api/tasks/{world['task'].pk}"),
        ("patch", f"/api/tasks/{world['task'].pk}"),
        ("post", f"/api/tasks/{world['task'].pk}/run"),
        ("post", f"/api/tasks/{world['task'].pk}/disable"),
        ("post", f"/api/tasks/{world['task'].pk}/enable"),
        ("post", "/api/agents"),
        ("put", f"/api/agents/{world['agent'].pk}"),
        ("patch", f"/api/agents/{world['agent'].pk}"),
        ("post", f"/api/agents/{world['agent'].pk}/heartbeat"),
        ("post", "/api/executions"),
        ("put", f"/api/executions/{world['execution'].pk}"),
        ("patch", f"/api/executions/{world['execution'].pk}"),
        ("post", f"/api/executions/{world['execution'].pk}/complete"),
        ("post", "/api/auth/token"),
    ]


def _send(client, method, path, body=None):
    if body is None:
        return getattr(client, method)(path)
    return getattr(client, method)(path, body, content_type="application/json")


@pytest.mark.parametrize(
    ("body", "got"),
    [
        ("null", "null"),
        ('["x"]', "an array"),
        ('"x"', "a string"),
        ("1.5", "a number"),
        ("true", "true"),
        ("false", "false"),
    ],
)
def test_a_body_that_is_not_an_object_is_named_by_its_json_type(staff_client, world, body, got):
    before = _rows()

    answers = [
        (method, path, _send(staff_client, method, path, body)) for method, path in _writes(world)
    ]

    for method, path, response in answers:
        assert (method, path, response.status_code, response.json()) == (
            method,
            path,
            400,
            {"non_field_errors": [f"Expected a JSON object, got {got}."]},
        )
    assert _rows() == before


@pytest.mark.parametrize(
    ("body", "got"),
    [("null", "null"), ('{"event_type": "x"}', "an object"), ("7", "a number")],
)
def test_a_bulk_body_that_is_not_an_array_is_named_by_its_json_type(staff_client, world, body, got):
    before = _rows()

    response = _send(staff_client, "post", "/api/events/bulk", body)

    assert (response.status_code, response.json()) == (
        400,
        {"non_field_errors": [f"Expected a JSON array, got {got}."]},
    )
    assert _rows() == before


def test_a_bulk_item_that_is_not_an_object_is_named_by_its_json_type(staff_client, world):
    before = _rows()

    response = _send(staff_client, "post", "/api/events/bulk", "[null, []]")

    assert (response.status_code, response.json()) == (
        400,
        {
            "0": {"non_field_errors": ["Expected a JSON object, got null."]},
            "1": {"non_field_errors": ["Expected a JSON object, got an array."]},
        },
    )
    assert _rows() == before


def test_a_byte_order_mark_is_refused_in_the_apis_words(staff_client, world):
    before = _rows()
    writes = [*_writes(world), ("post", "/api/events/bulk")]

    answers = [
        (method, path, _send(staff_client, method, path, b'\xef\xbb\xbf{"name": "p"}'))
        for method, path in writes
    ]

    for method, path, response in answers:
        assert (method, path, response.status_code, response.json()) == (
            method,
            path,
            400,
            {"detail": BYTE_ORDER_MARK},
        )
    assert _rows() == before


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            b'{"severity": "info"}\n\xef\xbb\xbf{}',
            "the line starts with a byte-order mark; send UTF-8 without one.",
        ),
        (b'{"severity": "info"}\n{"message": "\xff"}', "the line is not valid UTF-8."),
        (
            b'{"severity": "info"}\n{"k": ' + b"9" * 5000 + b"}",
            "a number too large: an integer of more than 4300 digits.",
        ),
    ],
)
def test_an_ndjson_line_the_parser_refuses_is_worded_by_the_api(staff_client, world, line, message):
    before = _rows()

    response = staff_client.post("/api/events/bulk", line, content_type="application/x-ndjson")

    assert (response.status_code, response.json()) == (
        400,
        {"detail": f"Line 2: JSON parse error - {message}"},
    )
    assert _rows() == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"name": "\xff"}', "JSON parse error - the body is not valid UTF-8."),
        (b'{"name": NaN}', "JSON parse error - NaN is not a JSON number; numbers must be finite."),
        (
            b'{"name": -Infinity}',
            "JSON parse error - -Infinity is not a JSON number; numbers must be finite.",
        ),
        (
            b'{"name": ' + b"9" * 5000 + b"}",
            "JSON parse error - a number too large: an integer of more than 4300 digits.",
        ),
        (b'{"name": }', "JSON parse error - Expecting value: line 1 column 10 (char 9)"),
    ],
)
def test_a_body_the_parser_refuses_is_worded_by_the_api(staff_client, world, body, message):
    before = _rows()

    response = _send(staff_client, "post", "/api/projects", body)

    assert (response.status_code, response.json()) == (400, {"detail": message})
    assert _rows() == before


def test_a_key_repeated_in_one_object_is_refused_on_every_endpoint(staff_client, world):
    before = _rows()
    writes = [*_writes(world), ("post", "/api/events/bulk")]
    body = '{"event_type": "x", "severity": "info", "message": "first", "message": "second"}'

    answers = [(method, path, _send(staff_client, method, path, body)) for method, path in writes]

    for method, path, response in answers:
        assert (method, path, response.status_code, response.json()) == (
            method,
            path,
            400,
            {"detail": DUPLICATE_MESSAGE},
        )
    assert _rows() == before


@pytest.mark.parametrize(
    ("method", "path", "body", "detail"),
    [
        (
            "post",
            "/api/events",
            '{"event_type": "x", "severity": "info", "message": "m",'
            ' "details": {"a": {"k": 1, "k": 2}}}',
            'JSON parse error - the key "k" appears twice in one object.',
        ),
        (
            "patch",
            "/api/tasks/{task}",
            '{"params_json": {"message": "a", "message": "b"}}',
            DUPLICATE_MESSAGE,
        ),
        (
            "patch",
            "/api/agents/{agent}",
            '{"capabilities_json": [{"skill": "a", "skill": "b"}]}',
            'JSON parse error - the key "skill" appears twice in one object.',
        ),
    ],
)
def test_a_key_repeated_in_a_nested_object_is_refused(
    staff_client, world, method, path, body, detail
):
    before = _rows()

    response = _send(
        staff_client,
        method,
        path.format(task=world["task"].pk, agent=world["agent"].pk),
        body,
    )

    assert (response.status_code, response.json()) == (400, {"detail": detail})
    assert _rows() == before


@pytest.mark.parametrize(
    ("method", "path", "body", "errors"),
    [
        (
            "post",
            "/api/events",
            '{"event_type": "x", "severity": "info", "message": "m", "details": {"k": 1e400}}',
            {"details": [NOT_FINITE]},
        ),
        (
            "post",
            "/api/events/bulk",
            '[{"event_type": "x", "severity": "info", "message": "m", "details": {"k": -1e999}}]',
            {"0": {"details": [NOT_FINITE]}},
        ),
        (
            "patch",
            "/api/tasks/{task}",
            '{"params_json": {"k": [1e400]}}',
            {"params_json": [NOT_FINITE]},
        ),
    ],
)
def test_a_number_too_large_for_a_float_is_named_with_its_field(
    staff_client, world, method, path, body, errors
):
    before = _rows()

    response = _send(staff_client, method, path.format(task=world["task"].pk), body)

    assert (response.status_code, response.json()) == (400, errors)
    assert _rows() == before


def _one_object_operations(world):
    """(method, path template) of every operation on one row, {id} to fill in."""
    return [
        *[
            (method, f"/api/{kind}/{{id}}")
            for kind in ("events", "projects", "tasks", "agents", "executions")
            for method in ("get", "put", "patch", "delete")
        ],
        ("get", "/api/audit/{id}"),
        ("post", "/api/tasks/{id}/run"),
        ("post", "/api/tasks/{id}/disable"),
        ("post", "/api/tasks/{id}/enable"),
        ("post", "/api/agents/{id}/heartbeat"),
        ("post", "/api/executions/{id}/complete"),
    ]


def test_a_row_that_does_not_exist_is_not_found_on_every_endpoint(staff_client, world):
    before = _rows()

    answers = [
        (method, path, _send(staff_client, method, path.format(id=2_000_000_000)))
        for method, path in _one_object_operations(world)
    ]

    for method, path, response in answers:
        assert (method, path, response.status_code, response.json()) == (
            method,
            path,
            404,
            NOT_FOUND,
        )
    assert _rows() == before


def test_another_users_row_is_not_found_as_every_404_is(api_client, world):
    before = _rows()
    others = [
        ("get", f"/api/projects/{world['others_project'].pk}"),
        ("patch", f"/api/projects/{world['others_project'].pk}"),
        ("get", f"/api/tasks/{world['others_task'].pk}"),
        ("delete", f"/api/tasks/{world['others_task'].pk}"),
        ("post", f"/api/tasks/{world['others_task'].pk}/run"),
        ("get", f"/api/executions/stats?task_id={world['others_task'].pk}"),
        ("get", "/api/no-such-endpoint"),
    ]

    answers = [(method, path, _send(api_client, method, path)) for method, path in others]

    for method, path, response in answers:
        assert (method, path, response.status_code, response.json()) == (
            method,
            path,
            404,
            NOT_FOUND,
        )
    assert _rows() == before


CHOICE = '"fatal" is not a valid choice.'


def test_a_bad_severity_reads_the_same_in_a_body_and_in_a_query_string(staff_client, world):
    event = {"event_type": "deploy", "message": "m", "severity": "fatal"}
    before = _rows()

    answers = [
        _send(staff_client, "post", "/api/events", event),
        _send(staff_client, "post", "/api/events/bulk", [event]),
        _send(staff_client, "patch", f"/api/events/{world['event'].pk}", {"severity": "fatal"}),
        staff_client.get("/api/events?severity=fatal"),
        staff_client.get("/api/events?severity=error&severity=fatal"),
        staff_client.get("/api/events/type/deploy?severity=fatal"),
        staff_client.get("/api/events/stats?severity=fatal"),
    ]

    assert [(response.status_code, response.json()) for response in answers] == [
        (400, {"severity": [CHOICE]}),
        (400, {"0": {"severity": [CHOICE]}}),
        (400, {"severity": [CHOICE]}),
        (400, {"severity": [CHOICE]}),
        (400, {"severity": [CHOICE]}),
        (400, {"severity": [CHOICE]}),
        (400, {"severity": [CHOICE]}),
    ]
    assert _rows() == before


def _concrete(path, ids):
    """A schema path with an existing row's id (by its collection) and a type in it."""
    if "{id}" in path:
        path = path.replace("{id}", str(ids[path.split("/")[2]]))
    return path.replace("{event_type}", "deploy")


def test_every_choice_of_a_query_string_is_refused_as_a_bodys_choice_is(staff_client, world):
    schema = staff_client.get("/api/schema?format=json").json()
    ids = {
        "events": world["event"].pk,
        "projects": world["project"].pk,
        "tasks": world["task"].pk,
        "agents": world["agent"].pk,
        "executions": world["execution"].pk,
        "audit": AuditLog.objects.order_by("pk").first().pk,
    }
    choices = [
        (
            _concrete(path, ids),
            parameter["name"],
        )
        for path, operations in schema["paths"].items()
        for parameter in operations.get("get", {}).get("parameters", [])
        if parameter["in"] == "query"
        and ("enum" in parameter["schema"] or "enum" in parameter["schema"].get("items", {}))
    ]
    body = _send(staff_client, "patch", f"/api/tasks/{world['task'].pk}", {"status": "fatal"})

    answers = [(path, name, staff_client.get(path, {name: "fatal"})) for path, name in choices]

    assert len(choices) >= 20
    assert (body.status_code, body.json()) == (400, {"status": [CHOICE]})
    for path, name, response in answers:
        assert (path, name, response.status_code, response.json()) == (
            path,
            name,
            400,
            {name: [CHOICE]},
        )
