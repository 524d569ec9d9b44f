"""The agents and executions API record one row per changed row, as the token user; reads and
refused writes anywhere in the scheduling API record nothing."""

import pytest

from scheduling.models import Agent, ExecutionResult
from scheduling.tests.factories import (
    AgentFactory,
    ExecutionResultFactory,
    ProjectFactory,
    ScheduledTaskFactory,
)
from tests.audit_paths.support import (
    audit_mark,
    client_meta,
    from_request,
    origins_after,
    records_after,
    stored,
)

pytestmark = pytest.mark.django_db


# Scheduling API: agents and executions


def test_api_agent_create_update_delete_and_heartbeat(staff_client, staff_user, api_client, user):
    mark = audit_mark()

    created = staff_client.post(
        "/api/agents",
        {"name": "coder-7", "type": "coder", "capabilities_json": ["python"]},
        format="json",
        **client_meta("req-agent-create"),
    )
    agent = Agent.objects.get()
    updated = staff_client.patch(
        f"/api/agents/{agent.pk}",
        {"status": "busy"},
        format="json",
        **client_meta("req-agent-update"),
    )
    beat = api_client.post(
        f"/api/agents/{agent.pk}/heartbeat",
        {"status": "active"},
        format="json",
        **client_meta("req-agent-beat"),
    )
    same = api_client.post(
        f"/api/agents/{agent.pk}/heartbeat",
        {"status": "active"},
        format="json",
        **client_meta("req-agent-same"),
    )
    beaten = Agent.objects.get(pk=agent.pk)
    deleted = staff_client.delete(f"/api/agents/{agent.pk}", **client_meta("req-agent-del"))

    statuses = [response.status_code for response in (created, updated, beat, same, deleted)]
    assert statuses == [201, 200, 200, 200, 204]
    assert beaten.last_active_at is not None
    # last_active_at is never recorded: the second heartbeat, which changes no status, records
    # nothing.
    assert records_after(mark) == [
        (
            "CREATE",
            "agents",
            str(agent.pk),
            {"name": "coder-7", "type": "coder", "capabilities_json": ["python"], "status": "idle"},
        ),
        ("UPDATE", "agents", str(agent.pk), {"status": {"old": "idle", "new": "busy"}}),
        ("UPDATE", "agents", str(agent.pk), {"status": {"old": "busy", "new": "active"}}),
        (
            "DELETE",
            "agents",
            str(agent.pk),
            {
                "name": "coder-7",
                "type": "coder",
                "capabilities_json": ["python"],
                "status": "active",
            },
        ),
    ]
    assert origins_after(mark) == [
        from_request(staff_user, created),
        from_request(staff_user, updated),
        from_request(user, beat),
        from_request(staff_user, deleted),
    ]


def test_api_execution_create_complete_and_delete(api_client, user):
    task = ScheduledTaskFactory(user=user)
    mark = audit_mark()

    created = api_client.post(
        "/api/executions",
        {"task_id": task.pk, "worker": "w-1"},
        format="json",
        **client_meta("req-execution-create"),
    )
    execution = ExecutionResult.objects.get()
    started = stored(execution)
    completed = api_client.post(
        f"/api/executions/{execution.pk}/complete",
        {"status": "success", "output_text": "done"},
        format="json",
        **client_meta("req-execution-complete"),
    )
    ended = stored(execution)
    deleted = api_client.delete(
        f"/api/executions/{execution.pk}", **client_meta("req-execution-del")
    )

    statuses = [response.status_code for response in (created, completed, deleted)]
    assert statuses == [201, 200, 204]
    assert started == {
        "task_id": task.pk,
        "scheduled_for": None,
        "started_at": started["started_at"],
        "ended_at": None,
        "status": None,
        "output_text": "",
        "error_text": "",
        "traceback_text": "",
        "duration_ms": None,
        "worker": "w-1",
    }
    assert records_after(mark) == [
        ("CREATE", "execution_results", str(execution.pk), started),
        (
            "UPDATE",
            "execution_results",
            str(execution.pk),
            {
                "ended_at": {"old": None, "new": ended["ended_at"]},
                "status": {"old": None, "new": "success"},
                "output_text": {"old": "", "new": "done"},
                "duration_ms": {"old": None, "new": ended["duration_ms"]},
            },
        ),
        ("DELETE", "execution_results", str(execution.pk), ended),
    ]
    assert origins_after(mark) == [
        from_request(user, created),
        from_request(user, completed),
        from_request(user, deleted),
    ]


def test_api_scheduling_reads_and_refused_writes_record_nothing(api_client, other_client, user):
    project = ProjectFactory(user=user)
    task = ScheduledTaskFactory(user=user, project=project)
    ExecutionResultFactory(task=task)
    agent = AgentFactory()
    mark = audit_mark()

    reads = [
        api_client.get(path).status_code
        for path in (
            "/api/projects",
            f"/api/projects/{project.pk}",
            "/api/tasks",
            "/api/tasks/pending",
            f"/api/tasks/{task.pk}",
            "/api/agents",
            f"/api/agents/{agent.pk}",
            "/api/agents/types",
            "/api/executions",
            "/api/executions/stats",
            "/api/skills",
        )
    ]
    refused = [
        other_client.patch(f"/api/tasks/{task.pk}", {"status": "disabled"}, format="json"),
        other_client.delete(f"/api/projects/{project.pk}"),
        other_client.post(f"/api/tasks/{task.pk}/disable"),
        api_client.patch(f"/api/agents/{agent.pk}", {"status": "busy"}, format="json"),
        api_client.post(
            "/api/tasks",
            {"skill_name": "demo.echo", "schedule_cron": "61 * * * *"},
            format="json",
        ),
    ]

    assert reads == [200] * 11
    assert [response.status_code for response in refused] == [404, 404, 404, 403, 400]
    assert records_after(mark) == []
