"""Responses with real rows match the OpenAPI schema: the fuzz test rarely reaches an existing
row, so nullable fields (a running execution, a task without a project, an agent never active)
are checked here."""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application

from brain.tokens import token_create

from .factories import AgentFactory, ExecutionResultFactory, ProjectFactory, ScheduledTaskFactory

schema = schemathesis.openapi.from_wsgi("/api/schema?format=json", get_wsgi_application())

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.response_schema_conformance,
]


@pytest.fixture
def rows(staff_user):
    project = ProjectFactory(user=staff_user)
    task = ScheduledTaskFactory(user=staff_user, project=project)
    detached = ScheduledTaskFactory(user=staff_user, next_run_at=None)
    running = ExecutionResultFactory(task=task, status=None, ended_at=None, duration_ms=None)
    finished = ExecutionResultFactory(task=detached)
    return {
        "project": project,
        "task": task,
        "agent": AgentFactory(last_active_at=None),
        "running": running,
        "finished": finished,
    }


def operations(rows):
    return [
        ("GET", "/api/projects", {}),
        ("GET", "/api/projects/{id}", {"id": rows["project"].pk}),
        ("GET", "/api/tasks", {}),
        ("GET", "/api/tasks/pending", {}),
        ("GET", "/api/tasks/{id}", {"id": rows["task"].pk}),
        ("GET", "/api/agents", {}),
        ("GET", "/api/agents/types", {}),
        ("GET", "/api/agents/{id}", {"id": rows["agent"].pk}),
        ("POST", "/api/agents/{id}/heartbeat", {"id": rows["agent"].pk}),
        ("GET", "/api/executions", {}),
        ("GET", "/api/executions/{id}", {"id": rows["running"].pk}),
        ("GET", "/api/executions/{id}", {"id": rows["finished"].pk}),
        ("GET", "/api/executions/stats", {}),
        ("POST", "/api/executions/{id}/complete", {"id": rows["running"].pk}),
    ]


@pytest.mark.django_db(transaction=True)
def test_responses_with_real_rows_match_the_schema(rows, staff_user):
    token = token_create(user=staff_user)
    bodies = {"/api/executions/{id}/complete": {"status": "success"}}

    for method, path, parameters in operations(rows):
        operation = schema[path][method]
        kwargs = {"path_parameters": parameters}
        if method == "POST":
            kwargs.update(body=bodies.get(path, {}), media_type="application/json")
        case = operation.Case(**kwargs)
        response = case.call_and_validate(
            headers={"Authorization": f"Token {token}"}, checks=CHECKS
        )
        assert response.status_code == 200, (method, path, response.text)
