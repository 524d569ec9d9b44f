"""A client generated from the schema the server serves (openapi-python-client, as a consumer
runs it) drives every operation of the schema against a live server, authenticated with the
Token header, and every answer, errors included, parses into the generated typed models."""

import importlib
import pkgutil
import re
import subprocess
import sys

import pytest
import requests

from audit.tests.trail import seal_all

pytestmark = pytest.mark.django_db(transaction=True)  # a live server on its own connections

GENERATOR = [sys.executable, "-m", "openapi_python_client"]  # its CLI, from this environment
PACKAGE = "brain_client"
# NDJSON is a body the generator does not support: it generates the JSON body of the operation
# and says so.
EXPECTED_WARNINGS = {("POST /api/events/bulk", "Unsupported content type application/x-ndjson")}


@pytest.fixture
def generated(live_server, tmp_path, monkeypatch):
    """The client package generated from `GET /api/schema`, imported."""
    config = tmp_path / "config.yaml"
    config.write_text("post_hooks: []\n")  # no formatting of the generated code
    result = subprocess.run(
        [
            *GENERATOR,
            "generate",
            "--url",
            f"{live_server.url}/api/schema?format=json",
            "--meta",
            "none",
            "--output-path",
            str(tmp_path / PACKAGE),
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    warnings = set(re.findall(r"WARNING parsing (\S+ \S+) within \w+\.\s+(.+)", output))
    assert warnings == EXPECTED_WARNINGS, output
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module(f"{PACKAGE}.models")  # an attribute of the package from now on
    yield importlib.import_module(PACKAGE)
    for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
        del sys.modules[name]


class Operations:
    """Calls the generated client's operations by operationId, remembering which were called."""

    def __init__(self, package):
        api = importlib.import_module(f"{package.__name__}.api")
        self.modules = {}
        for tag in pkgutil.iter_modules(api.__path__):
            tag_package = importlib.import_module(f"{api.__name__}.{tag.name}")
            for operation in pkgutil.iter_modules(tag_package.__path__):
                self.modules[operation.name] = f"{tag_package.__name__}.{operation.name}"
        self.called = set()

    def __call__(self, operation_id, status, /, **kwargs):
        """The parsed answer of the operation, which must have answered `status`."""
        module = importlib.import_module(self.modules[operation_id])
        response = module.sync_detailed(**kwargs)
        assert response.status_code == status, (operation_id, response.content)
        self.called.add(operation_id)
        return response.parsed


def test_a_generated_client_drives_every_operation(generated, live_server, staff_user):
    m = generated.models
    call = Operations(generated)
    anonymous = generated.Client(base_url=live_server.url, raise_on_unexpected_status=True)

    # Authentication: the token endpoint takes no credentials; the token goes in `Token <key>`.
    token = call(
        "auth_token_create",
        200,
        client=anonymous,
        body=m.AuthTokenRequest(username="staff", password="staff-password-1"),
    )
    assert isinstance(token, m.TokenResponse)
    client = generated.AuthenticatedClient(
        base_url=live_server.url, token=token.token, prefix="Token", raise_on_unexpected_status=True
    )
    bearer = generated.AuthenticatedClient(
        base_url=live_server.url, token=token.token, raise_on_unexpected_status=True
    )
    assert call("auth_me_retrieve", 401, client=bearer) == m.Error(
        detail="Authentication credentials were not provided."
    )
    me = call("auth_me_retrieve", 200, client=client)
    assert (me.id, me.username, me.is_staff) == (staff_user.pk, "staff", True)

    # Events.
    event = call(
        "events_create",
        201,
        client=client,
        body=m.SystemEventCreateRequest(
            event_type="deploy", severity=m.SeverityEnum.INFO, message="v1", source="ci"
        ),
    )
    assert isinstance(event, m.SystemEvent)
    assert (event.event_type, event.severity, event.message, event.source, event.details) == (
        "deploy",
        m.SeverityEnum.INFO,
        "v1",
        "ci",
        None,
    )
    assert call("events_retrieve", 200, client=client, id=event.id) == event
    listed = call(
        "events_list", 200, client=client, severity=[m.EventsListSeverityItem.INFO], source="ci"
    )
    assert (listed.count, listed.results) == (1, [event])
    of_type = call("events_type_list", 200, client=client, event_type="deploy")
    assert of_type.results == [event]
    stats = call("events_stats_retrieve", 200, client=client)
    assert (stats.total, stats.by_severity.info, stats.first_event_at) == (1, 1, event.timestamp)
    updated = call(
        "events_update",
        200,
        client=client,
        id=event.id,
        body=m.SystemEventUpdateRequest(severity=m.SeverityEnum.WARNING),
    )
    assert (updated.severity, updated.message) == (m.SeverityEnum.WARNING, "v1")
    patched = call(
        "events_partial_update",
        200,
        client=client,
        id=event.id,
        body=m.PatchedSystemEventUpdateRequest(message="v2"),
    )
    assert (patched.severity, patched.message) == (m.SeverityEnum.WARNING, "v2")
    bulk = call(
        "events_bulk_create",
        201,
        client=client,
        prefer="return=minimal",
        body=[
            m.SystemEventCreateRequest(
                event_type="deploy", severity=m.SeverityEnum.ERROR, message="v3"
            ),
            m.SystemEventCreateRequest(
                event_type="deploy", severity=m.SeverityEnum.ERROR, message="v4"
            ),
        ],
    )
    assert isinstance(bulk, m.EventsBulkCreateEventIngestMinimal)
    assert bulk.count == 2
    refused = call(
        "events_bulk_create",
        400,
        client=client,
        body=[m.SystemEventCreateRequest(event_type="", severity=m.SeverityEnum.INFO, message="x")],
    )
    assert isinstance(refused, m.FieldErrors)
    assert isinstance(refused["0"], m.FieldErrors)
    assert list(refused["0"].additional_properties) == ["event_type"]
    assert call("events_destroy", 204, client=client, id=event.id) is None
    assert call("events_retrieve", 404, client=client, id=event.id) == m.Error(detail="Not found.")

    # Projects and tasks.
    project = call(
        "projects_create", 201, client=client, body=m.ProjectRequest(name="Data", description="")
    )
    assert (project.name, project.user_id, project.tasks_count) == ("Data", staff_user.pk, 0)
    assert call("projects_retrieve", 200, client=client, id=project.id) == project
    assert call("projects_list", 200, client=client).results == [project]
    project = call(
        "projects_update",
        200,
        client=client,
        id=project.id,
        body=m.ProjectRequest(name="Data platform", description="Nightly"),
    )
    project = call(
        "projects_partial_update",
        200,
        client=client,
        id=project.id,
        body=m.PatchedProjectRequest(description="Nightly pipelines"),
    )
    assert (project.name, project.description) == ("Data platform", "Nightly pipelines")
    empty_name = call("projects_create", 400, client=client, body=m.ProjectRequest(name=""))
    assert list(empty_name.additional_properties) == ["name"]

    skills = call("skills_list", 200, client=client, limit=100)
    assert "demo.echo" in [skill.name for skill in skills.results]
    task = call(
        "tasks_create",
        201,
        client=client,
        body=m.ScheduledTaskRequest(
            skill_name="demo.echo",
            schedule_cron="0 3 * * *",
            timezone="Europe/Berlin",
            project_id=project.id,
            params_json={"message": "hi"},
        ),
    )
    assert (task.skill_name, task.status, task.project_id) == (
        "demo.echo",
        m.TaskStatusEnum.PENDING,
        project.id,
    )
    assert call("tasks_retrieve", 200, client=client, id=task.id) == task
    assert call("tasks_list", 200, client=client, project_id=project.id).results == [task]
    assert call("tasks_pending_list", 200, client=client).results == []
    task = call(
        "tasks_update",
        200,
        client=client,
        id=task.id,
        body=m.ScheduledTaskRequest(
            skill_name="demo.echo", schedule_cron="30 3 * * *", project_id=project.id
        ),
    )
    assert (task.schedule_cron, task.timezone) == ("30 3 * * *", "Europe/Berlin")
    task = call(
        "tasks_partial_update",
        200,
        client=client,
        id=task.id,
        body=m.PatchedScheduledTaskRequest(timeout_seconds=120),
    )
    assert task.timeout_seconds == 120
    state = call("tasks_disable_create", 200, client=client, id=task.id)
    assert state.status == m.TaskStatusEnum.DISABLED
    conflict = call("tasks_run_create", 409, client=client, id=task.id)
    assert conflict == m.Error(detail="The task is disabled; enable it first.")
    state = call("tasks_enable_create", 200, client=client, id=task.id)
    assert state.status == m.TaskStatusEnum.PENDING
    state = call("tasks_run_create", 202, client=client, id=task.id)
    assert state.status == m.TaskStatusEnum.PENDING
    assert [due.id for due in call("tasks_pending_list", 200, client=client).results] == [task.id]

    # Agents.
    agent_type = call("agents_types_retrieve", 200, client=client).types[0]
    agent = call(
        "agents_create",
        201,
        client=client,
        body=m.AgentRequest(name="Reviewer-1", type_=agent_type),
    )
    assert (agent.name, agent.status, agent.last_active_at) == (
        "Reviewer-1",
        m.AgentStatusEnum.IDLE,
        None,
    )
    assert call("agents_retrieve", 200, client=client, id=agent.id) == agent
    assert call("agents_list", 200, client=client, name="reviewer-1").results == [agent]
    agent = call(
        "agents_update",
        200,
        client=client,
        id=agent.id,
        body=m.AgentRequest(name="Reviewer-2", type_=agent_type),
    )
    agent = call(
        "agents_partial_update",
        200,
        client=client,
        id=agent.id,
        body=m.PatchedAgentRequest(status=m.AgentStatusEnum.OFFLINE),
    )
    assert (agent.name, agent.status) == ("Reviewer-2", m.AgentStatusEnum.OFFLINE)
    agent = call(
        "agents_heartbeat_create",
        200,
        client=client,
        id=agent.id,
        body=m.AgentHeartbeatRequest(status=m.AgentStatusEnum.BUSY),
    )
    assert agent.status == m.AgentStatusEnum.BUSY
    assert agent.last_active_at is not None

    # Executions.
    execution = call(
        "executions_create", 201, client=client, body=m.ExecutionResultRequest(task_id=task.id)
    )
    assert (execution.task_id, execution.status, execution.ended_at) == (
        task.id,
        m.ExecutionResultStatusEnum.RUNNING,
        None,
    )
    assert call("executions_retrieve", 200, client=client, id=execution.id) == execution
    listed = call("executions_list", 200, client=client, task_id=task.id)
    assert listed.results == [execution]
    execution = call(
        "executions_update",
        200,
        client=client,
        id=execution.id,
        body=m.ExecutionResultRequest(task_id=task.id, worker="worker-1"),
    )
    execution = call(
        "executions_partial_update",
        200,
        client=client,
        id=execution.id,
        body=m.PatchedExecutionResultRequest(output_text="half-way"),
    )
    assert (execution.worker, execution.output_text) == ("worker-1", "half-way")
    execution = call(
        "executions_complete_create",
        200,
        client=client,
        id=execution.id,
        body=m.ExecutionCompleteRequest(status=m.ExecutionStatusEnum.SUCCESS, output_text="done"),
    )
    assert (execution.status, execution.output_text) == (
        m.ExecutionResultStatusEnum.SUCCESS,
        "done",
    )
    assert execution.duration_ms is not None
    again = call(
        "executions_complete_create",
        409,
        client=client,
        id=execution.id,
        body=m.ExecutionCompleteRequest(status=m.ExecutionStatusEnum.FAILED),
    )
    assert isinstance(again, m.Error)
    stats = call("executions_stats_retrieve", 200, client=client, task_id=task.id)
    assert (stats.total, stats.success) == (1, 1)
    assert call("executions_stats_retrieve", 404, client=client, task_id=task.id + 1) == m.Error(
        detail="Not found."
    )

    # Audit.
    trail = call("audit_list", 200, client=client, table_name="projects", record_id=str(project.id))
    assert [record.operation for record in trail.results] == [
        m.OperationEnum.UPDATE,
        m.OperationEnum.UPDATE,
        m.OperationEnum.UPDATE,
        m.OperationEnum.CREATE,
    ]
    record = call("audit_retrieve", 200, client=client, id=trail.results[-1].id)
    assert (record.user_id, record.record_id) == (str(staff_user.pk), str(project.id))

    # The sealed trail: checkpoints, the records of one, the key that signs them.
    seal_all()
    checkpoints = call("audit_checkpoints_list", 200, client=client)
    first = checkpoints.results[0]
    assert (first.sequence, first.kind) == (1, m.CheckpointKindEnum.SEAL)
    assert call("audit_checkpoints_retrieve", 200, client=client, id=1) == first
    sealed = call("audit_checkpoints_records_list", 200, client=client, id=1, limit=1000)
    assert (sealed.count, sealed.results[0].id) == (first.record_count, first.first_record_id)
    key = call("audit_checkpoints_key_retrieve", 200, client=client)
    assert (key.algorithm, key.key_id) == ("Ed25519", first.key_id)

    # Deletes: a project with tasks is refused until they are gone.
    has_tasks = call("projects_destroy", 409, client=client, id=project.id)
    assert has_tasks == m.Error(detail="This project has 1 task: delete or move it first.")
    assert call("executions_destroy", 204, client=client, id=execution.id) is None
    assert call("tasks_destroy", 204, client=client, id=task.id) is None
    assert call("projects_destroy", 204, client=client, id=project.id) is None
    assert call("agents_destroy", 204, client=client, id=agent.id) is None

    # Revocation: the request's own token, then every token of its user, each at once.
    second = call(
        "auth_token_create",
        200,
        client=anonymous,
        body=m.AuthTokenRequest(
            username="staff", password="staff-password-1", scope=m.TokenScopeEnum.READ
        ),
    )
    revoked = generated.AuthenticatedClient(
        base_url=live_server.url,
        token=second.token,
        prefix="Token",
        raise_on_unexpected_status=True,
    )
    assert call("auth_token_destroy", 204, client=revoked) is None
    assert call("auth_me_retrieve", 401, client=revoked) == m.Error(detail="Invalid token.")
    assert call("auth_tokens_destroy", 204, client=client) is None
    assert call("auth_me_retrieve", 401, client=client) == m.Error(detail="Invalid token.")

    schema = requests.get(f"{live_server.url}/api/schema?format=json", timeout=10).json()
    operation_ids = {
        operation["operationId"]
        for item in schema["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    }
    assert call.called == operation_ids
