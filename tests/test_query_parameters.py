"""Query parameters on every endpoint: one the endpoint does not know is a 400 naming it and the
ones it knows, with nothing read or written; the OpenAPI schema documents exactly the parameters
each operation takes."""

import json

import pytest

from audit.models import AuditLog
from audit.tests.factories import AuditCheckpointFactory
from events.tests.factories import SystemEventFactory
from scheduling.models import Project
from scheduling.tests.factories import (
    AgentFactory,
    ExecutionResultFactory,
    ProjectFactory,
    ScheduledTaskFactory,
)

from .support import stored_rows

pytestmark = pytest.mark.django_db

EVENT_FILTERS = "severity, source, timestamp_after, timestamp_before, search"
LIST = "ordering, limit, offset, format"

# Every list and statistics endpoint, and the parameters it knows, in the order it names them.
KNOWN = {
    "/api/events": f"event_type, {EVENT_FILTERS}, {LIST}",
    "/api/events/type/deploy": f"{EVENT_FILTERS}, {LIST}",
    "/api/events/stats": f"event_type, {EVENT_FILTERS}, format",
    "/api/projects": f"user_id, name, created_after, created_before, {LIST}",
    "/api/tasks": (
        f"user_id, project_id, status, skill_name, next_run_after, next_run_before, {LIST}"
    ),
    "/api/tasks/pending": (
        f"user_id, project_id, status, skill_name, next_run_after, next_run_before, {LIST}"
    ),
    "/api/agents": f"name, type, status, active_after, active_before, {LIST}",
    "/api/agents/types": "format",
    "/api/executions": f"task_id, status, started_after, started_before, {LIST}",
    "/api/executions/stats": "task_id, started_after, started_before, format",
    "/api/audit": (
        "table_name, record_id, user_id, operation, timestamp_after, timestamp_before, "
        "limit, offset, format"
    ),
    "/api/audit/checkpoints": "limit, offset, format",
    "/api/audit/checkpoints/key": "format",
    "/api/skills": "limit, offset, format",
    "/api/auth/me": "format",
}


def _unknown(known):
    return [f"Unknown query parameter. Known: {known}."]


@pytest.fixture
def world(staff_user):
    """One row of each kind, owned by the staff user."""
    project = ProjectFactory(user=staff_user)
    task = ScheduledTaskFactory(user=staff_user, project=project)
    return {
        "event": SystemEventFactory(event_type="deploy", severity="error"),
        "project": project,
        "task": task,
        "agent": AgentFactory(),
        "execution": ExecutionResultFactory(task=task),
        "checkpoint": AuditCheckpointFactory(),
    }


@pytest.mark.parametrize("path", list(KNOWN))
def test_an_unknown_query_parameter_is_refused_naming_it(staff_client, world, path):
    before = stored_rows()

    response = staff_client.get(f"{path}?sevrity=error")

    assert (response.status_code, response.json()) == (400, {"sevrity": _unknown(KNOWN[path])})
    assert stored_rows() == before


def test_every_unknown_parameter_is_named_along_with_an_empty_known_one(staff_client, world):
    response = staff_client.get("/api/events?sevrity=error&limit=&Severity=info&severity=error")

    assert (response.status_code, response.json()) == (
        400,
        {
            "Severity": _unknown(KNOWN["/api/events"]),
            "limit": ["This parameter may not be empty: give a value or leave it out."],
            "sevrity": _unknown(KNOWN["/api/events"]),
        },
    )


def test_a_misspelt_filter_no_longer_answers_every_event(staff_client, world):
    SystemEventFactory(event_type="deploy", severity="info")

    refused = staff_client.get("/api/events?sevrity=error")
    filtered = staff_client.get("/api/events?severity=error")

    assert refused.status_code == 400
    assert filtered.status_code == 200
    assert [event["id"] for event in filtered.json()["results"]] == [world["event"].pk]


def test_an_unknown_parameter_of_an_anonymous_request_is_still_a_401(anon_client):
    response = anon_client.get("/api/events?sevrity=error")

    assert (response.status_code, response.json()) == (
        401,
        {"detail": "Authentication credentials were not provided."},
    )


@pytest.mark.parametrize(
    ("path", "query", "name"),
    [
        ("/api/events", "limit=1&limit=50", "limit"),
        ("/api/events", "offset=0&offset=1", "offset"),
        ("/api/events", "ordering=id&ordering=-id", "ordering"),
        ("/api/events", "format=api&format=json", "format"),
        ("/api/events", "source=a&source=b", "source"),
        ("/api/events/type/deploy", "search=a&search=b", "search"),
        ("/api/events/stats", "event_type=a&event_type=deploy", "event_type"),
        ("/api/projects", "user_id=1&user_id=2", "user_id"),
        ("/api/tasks", "status=pending&status=failed", "status"),
        ("/api/agents", "name=a&name=b", "name"),
        ("/api/executions", "started_after=2026-01-01&started_after=2027-01-01", "started_after"),
        ("/api/executions/stats", "task_id=1&task_id=2", "task_id"),
        ("/api/audit", "table_name=a&table_name=b", "table_name"),
        ("/api/audit/checkpoints", "limit=1&limit=2&limit=3", "limit"),
    ],
)
def test_a_parameter_taking_one_value_is_refused_given_twice(
    staff_client, world, path, query, name
):
    count = query.count(f"{name}=")

    response = staff_client.get(f"{path}?{query}")

    assert (response.status_code, response.json()) == (
        400,
        {name: [f"This parameter takes one value; it was given {count} times."]},
    )


def test_a_parameter_taking_several_values_may_be_repeated(staff_client, world):
    critical = SystemEventFactory(event_type="deploy", severity="critical")
    SystemEventFactory(event_type="deploy", severity="info")

    answers = [
        staff_client.get(f"{path}?severity=error&severity=critical&ordering=id")
        for path in ("/api/events", "/api/events/type/deploy")
    ]
    stats = staff_client.get("/api/events/stats?severity=error&severity=critical")

    assert [[event["id"] for event in response.json()["results"]] for response in answers] == [
        [world["event"].pk, critical.pk]
    ] * 2
    assert (stats.status_code, stats.json()["total"]) == (200, 2)


def _one_object_paths(world):
    return [
        f"/api/events/{world['event'].pk}",
        f"/api/projects/{world['project'].pk}",
        f"/api/tasks/{world['task'].pk}",
        f"/api/agents/{world['agent'].pk}",
        f"/api/executions/{world['execution'].pk}",
        f"/api/audit/checkpoints/{world['checkpoint'].pk}",
    ]


def test_one_object_knows_format_only_its_lists_filters_included(staff_client, world):
    audit = AuditLog.objects.order_by("pk").first()
    paths = [*_one_object_paths(world), f"/api/audit/{audit.pk}"]

    answers = [
        (path, name, staff_client.get(f"{path}?{name}=1"))
        for path in paths
        for name in ("foo", "limit", "ordering", "status", "table_name")
    ]

    for path, name, response in answers:
        assert (path, name, response.status_code, response.json()) == (
            path,
            name,
            400,
            {name: _unknown("format")},
        )


def test_a_write_refuses_an_unknown_query_parameter_and_writes_nothing(staff_client, world):
    before = stored_rows()

    answers = [
        staff_client.post("/api/projects?name=p", {"name": "p"}, format="json"),
        staff_client.patch(
            f"/api/projects/{world['project'].pk}?dry_run=1", {"name": "q"}, format="json"
        ),
        staff_client.delete(f"/api/agents/{world['agent'].pk}?force=1"),
        staff_client.post(f"/api/tasks/{world['task'].pk}/disable?now=1"),
    ]

    assert [(response.status_code, response.json()) for response in answers] == [
        (400, {"name": _unknown("format")}),
        (400, {"dry_run": _unknown("format")}),
        (400, {"force": _unknown("format")}),
        (400, {"now": _unknown("format")}),
    ]
    assert stored_rows() == before


def test_format_is_known_everywhere(staff_client, world):
    answers = [
        staff_client.get(f"{path}?format=json") for path in [*KNOWN, *_one_object_paths(world)]
    ]

    assert [response.status_code for response in answers] == [200] * len(answers)
    assert (
        staff_client.get("/api/events?format=api").headers["Content-Type"].startswith("text/html")
    )


# A valid value of each documented parameter, by name and else by schema type.
_VALUES = {"ordering": "id", "format": "json", "search": "m", "name": "agent", "type": "coder"}


def _value(parameter, world):
    schema = parameter["schema"]
    if parameter["name"] in _VALUES:
        return _VALUES[parameter["name"]]
    if parameter["name"] in {"task_id", "project_id"}:
        return world[parameter["name"].removesuffix("_id")].pk
    if "enum" in schema or "enum" in schema.get("items", {}):
        return (schema.get("enum") or schema["items"]["enum"])[0]
    if schema.get("format") == "date-time":
        return "2026-01-01T00:00:00Z"
    if schema.get("type") == "integer":
        return "1"
    return "deploy"


def _operations(schema, world):
    """(method, path with ids of existing rows, documented query parameters) of every operation
    of the schema that a request can reach without a body."""
    audit = AuditLog.objects.order_by("pk").first()
    ids = {
        "/api/events/": world["event"].pk,
        "/api/projects/": world["project"].pk,
        "/api/tasks/": world["task"].pk,
        "/api/agents/": world["agent"].pk,
        "/api/executions/": world["execution"].pk,
        "/api/audit/checkpoints/": world["checkpoint"].pk,
        "/api/audit/": audit.pk,
    }
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method != "get":
                continue
            concrete = path.replace("{event_type}", "deploy")
            for prefix, pk in ids.items():
                if concrete.startswith(prefix):
                    concrete = concrete.replace("{id}", str(pk))
            parameters = [p for p in operation.get("parameters", []) if p["in"] == "query"]
            yield concrete, parameters


def test_the_schema_documents_exactly_the_parameters_each_get_takes(staff_client, world):
    schema = staff_client.get("/api/schema?format=json").json()
    operations = list(_operations(schema, world))
    every_name = sorted({p["name"] for _, parameters in operations for p in parameters})

    for path, parameters in operations:
        documented = {p["name"] for p in parameters}
        for parameter in parameters:
            response = staff_client.get(path, {parameter["name"]: _value(parameter, world)})

            assert (path, parameter["name"], response.status_code) == (
                path,
                parameter["name"],
                200,
            )
        for name in every_name:
            if name in documented:
                continue
            response = staff_client.get(path, {name: "1"})

            assert (path, name, response.status_code, list(response.json())) == (
                path,
                name,
                400,
                [name],
            )
            assert response.json()[name][0].startswith("Unknown query parameter. Known: ")
            known = response.json()[name][0].removeprefix("Unknown query parameter. Known: ")
            assert (path, sorted(known.rstrip(".").split(", "))) == (path, sorted(documented))


def test_every_list_in_the_schema_is_walked_here(staff_client, world):
    schema = staff_client.get("/api/schema?format=json").json()
    lists = {
        path.replace("{event_type}", "deploy")
        for path, operations in schema["paths"].items()
        if "get" in operations and "{id}" not in path and path != "/api/schema"
    }

    assert lists == set(KNOWN)


def test_a_body_still_reads_as_before_with_format_given(staff_client, world):
    response = staff_client.post(
        "/api/projects?format=json", json.dumps({"name": "p"}), content_type="application/json"
    )

    assert response.status_code == 201
    assert Project.objects.filter(name="p").count() == 1
