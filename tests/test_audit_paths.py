"""Every real write path leaves exactly one audit record per changed row, naming who (the user's
pk, or `system:<command>`), from where (REMOTE_ADDR, User-Agent), in which request (X-Request-ID)
and what changed; reads, refused writes and saves that change nothing leave none.

Paths: the events and scheduling APIs (bulk endpoint and scheduler actions included), the admin
(change form, add form, the changelist's "delete selected" action) and the management commands
(seed_events, purge_events, seed, run_scheduler). The ORM and QuerySet bulk paths are proven in
audit/tests."""

import json
import signal
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Max
from django.utils import timezone

from audit.models import AuditLog
from events.models import SystemEvent
from events.tests.factories import SystemEventFactory
from scheduling import skills
from scheduling.models import Agent, ExecutionResult, Project, ScheduledTask
from scheduling.tests.factories import (
    AgentFactory,
    ExecutionResultFactory,
    ProjectFactory,
    ScheduledTaskFactory,
)

pytestmark = pytest.mark.django_db

IP = "203.0.113.7"
USER_AGENT = "brain-paths-test/1.0"

# The recorded fields of each audited model, in the model's order: every one but the primary key.
RECORDED = {
    SystemEvent: [
        "event_type",
        "severity",
        "message",
        "details",
        "source",
        "timestamp",
        "created_at",
    ],
    Project: ["name", "description", "created_at", "updated_at", "tasks_count", "user_id"],
    ScheduledTask: [
        "skill_name",
        "schedule_cron",
        "timezone",
        "next_run_at",
        "params_json",
        "status",
        "timeout_seconds",
        "project_id",
        "user_id",
        "claimed_by",
        "lease_expires_at",
        "created_at",
        "updated_at",
    ],
    Agent: ["name", "type", "capabilities_json", "status", "last_active_at"],
    ExecutionResult: [
        "task_id",
        "scheduled_for",
        "started_at",
        "ended_at",
        "status",
        "output_text",
        "error_text",
        "duration_ms",
        "worker",
    ],
}


def encoded(value):
    """A value as a record stores it (DjangoJSONEncoder: ISO 8601 datetimes, milliseconds)."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def stored(instance):
    """Every recorded field of the row as the database holds it now, encoded."""
    row = type(instance).objects.get(pk=instance.pk)
    return {name: encoded(getattr(row, name)) for name in RECORDED[type(instance)]}


def change(old, new):
    return {"old": encoded(old), "new": encoded(new)}


def change_of(before, instance, name):
    """{"old", "new"} of one field: its value in `before` (a stored() dict) and in the row now."""
    return {"old": before[name], "new": stored(instance)[name]}


def client_meta(request_id):
    """What the test client sends: its address, a User-Agent and an X-Request-ID."""
    return {"REMOTE_ADDR": IP, "HTTP_USER_AGENT": USER_AGENT, "HTTP_X_REQUEST_ID": request_id}


def from_request(user, request_id):
    return (str(user.pk), IP, USER_AGENT, request_id)


def from_system(actor):
    return (actor, None, "", "")


def audit_mark():
    """The id of the newest record: what the `when` step writes comes after it."""
    return AuditLog.objects.aggregate(last=Max("id"))["last"] or 0


def records_after(mark):
    """(operation, table, record id, changed_fields) of each record after `mark`, oldest first."""
    return [
        (log.operation, log.table_name, log.record_id, log.changed_fields)
        for log in AuditLog.objects.filter(id__gt=mark).order_by("id")
    ]


def origins_after(mark):
    """(user id, IP, user agent, request id) of each record after `mark`, oldest first."""
    return [
        (log.user_id, log.ip_address, log.user_agent, log.request_id)
        for log in AuditLog.objects.filter(id__gt=mark).order_by("id")
    ]


# Events API


def test_api_event_create_records_a_create_by_the_token_user(
    api_client, user, django_capture_on_commit_callbacks
):
    mark = audit_mark()
    payload = {
        "event_type": "deployment",
        "severity": "info",
        "message": "v2 out",
        "details": {"version": 2, "api_key": "k-123"},
        "source": "ci",
        "timestamp": "2026-11-01T10:00:00.123456Z",
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            "/api/events", payload, format="json", **client_meta("req-event-create")
        )

    assert response.status_code == 201
    event = SystemEvent.objects.get()
    assert records_after(mark) == [
        (
            "CREATE",
            "system_events",
            str(event.pk),
            {
                "event_type": "deployment",
                "severity": "info",
                "message": "v2 out",
                "details": {"version": 2, "api_key": "[redacted]"},
                "source": "ci",
                "timestamp": "2026-11-01T10:00:00.123Z",
                "created_at": encoded(event.created_at),
            },
        )
    ]
    assert origins_after(mark) == [from_request(user, "req-event-create")]


def test_api_event_put_records_only_the_changed_fields(staff_client, staff_user):
    event = SystemEventFactory(severity="info", message="disk 80%", source="api-1")
    mark = audit_mark()
    body = {
        "event_type": event.event_type,
        "severity": "error",
        "message": "disk 95%",
        "details": event.details,
        "source": "api-1",
    }

    response = staff_client.put(
        f"/api/events/{event.pk}", body, format="json", **client_meta("req-event-put")
    )

    assert response.status_code == 200
    assert records_after(mark) == [
        (
            "UPDATE",
            "system_events",
            str(event.pk),
            {"severity": change("info", "error"), "message": change("disk 80%", "disk 95%")},
        )
    ]
    assert origins_after(mark) == [from_request(staff_user, "req-event-put")]


def test_api_event_patch_records_the_changed_field(staff_client, staff_user):
    event = SystemEventFactory(source="api-1")
    mark = audit_mark()

    response = staff_client.patch(
        f"/api/events/{event.pk}",
        {"source": "api-2"},
        format="json",
        **client_meta("req-event-patch"),
    )

    assert response.status_code == 200
    assert records_after(mark) == [
        ("UPDATE", "system_events", str(event.pk), {"source": change("api-1", "api-2")})
    ]
    assert origins_after(mark) == [from_request(staff_user, "req-event-patch")]


def test_api_event_patch_that_changes_nothing_records_nothing(staff_client):
    event = SystemEventFactory(severity="warning", message="same")
    mark = audit_mark()

    response = staff_client.patch(
        f"/api/events/{event.pk}",
        {"severity": "warning", "message": "same"},
        format="json",
        **client_meta("req-event-noop"),
    )

    assert response.status_code == 200
    assert records_after(mark) == []


def test_api_event_delete_records_the_last_values(
    staff_client, staff_user, django_capture_on_commit_callbacks
):
    event = SystemEventFactory()
    values = stored(event)
    mark = audit_mark()

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.delete(f"/api/events/{event.pk}", **client_meta("req-event-del"))

    assert response.status_code == 204
    assert records_after(mark) == [("DELETE", "system_events", str(event.pk), values)]
    assert origins_after(mark) == [from_request(staff_user, "req-event-del")]


def test_api_event_bulk_records_one_create_per_event(
    api_client, user, django_capture_on_commit_callbacks
):
    mark = audit_mark()
    payload = [
        {"event_type": "backup", "severity": "info", "message": f"backup {n}", "source": "cron"}
        for n in range(3)
    ]

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            "/api/events/bulk", payload, format="json", **client_meta("req-event-bulk")
        )

    assert response.status_code == 201
    events = SystemEvent.objects.order_by("id")
    assert [event["id"] for event in response.json()] == [event.pk for event in events]
    assert records_after(mark) == [
        ("CREATE", "system_events", str(event.pk), stored(event)) for event in events
    ]
    assert [stored(event)["message"] for event in events] == ["backup 0", "backup 1", "backup 2"]
    assert origins_after(mark) == [from_request(user, "req-event-bulk")] * 3


def test_api_event_reads_and_refused_writes_record_nothing(api_client, anon_client):
    event = SystemEventFactory()
    mark = audit_mark()

    reads = [
        api_client.get("/api/events").status_code,
        api_client.get(f"/api/events/{event.pk}").status_code,
        api_client.get(f"/api/events/type/{event.event_type}").status_code,
        api_client.get("/api/events/stats").status_code,
    ]
    refused = [
        api_client.patch(f"/api/events/{event.pk}", {"message": "x"}, format="json").status_code,
        api_client.delete(f"/api/events/{event.pk}").status_code,
        anon_client.post(
            "/api/events", {"event_type": "a", "severity": "info", "message": "m"}, format="json"
        ).status_code,
        api_client.post(
            "/api/events/bulk",
            [{"event_type": "a", "severity": "info", "message": "m"}, {"severity": "bogus"}],
            format="json",
        ).status_code,
    ]

    assert reads == [200, 200, 200, 200]
    assert refused == [403, 403, 401, 400]
    assert records_after(mark) == []
    assert SystemEvent.objects.count() == 1


# Scheduling API: projects


def test_api_project_create_update_and_noop(api_client, user):
    mark = audit_mark()

    created = api_client.post(
        "/api/projects",
        {"name": "Ops", "description": "night jobs"},
        format="json",
        **client_meta("req-project-create"),
    )
    project = Project.objects.get()
    before = stored(project)
    updated = api_client.patch(
        f"/api/projects/{project.pk}",
        {"name": "Ops 2"},
        format="json",
        **client_meta("req-project-update"),
    )
    after = stored(project)
    unchanged = api_client.patch(
        f"/api/projects/{project.pk}",
        {"name": "Ops 2", "description": "night jobs"},
        format="json",
        **client_meta("req-project-noop"),
    )

    assert [created.status_code, updated.status_code, unchanged.status_code] == [201, 200, 200]
    assert before == {
        "name": "Ops",
        "description": "night jobs",
        "created_at": before["created_at"],
        "updated_at": before["updated_at"],
        "tasks_count": 0,
        "user_id": user.pk,
    }
    assert records_after(mark) == [
        ("CREATE", "projects", str(project.pk), before),
        (
            "UPDATE",
            "projects",
            str(project.pk),
            {
                "name": {"old": "Ops", "new": "Ops 2"},
                "updated_at": {"old": before["updated_at"], "new": after["updated_at"]},
            },
        ),
    ]
    assert origins_after(mark) == [
        from_request(user, "req-project-create"),
        from_request(user, "req-project-update"),
    ]


def test_api_project_delete_records_its_tasks_detached_and_the_project(api_client, user):
    project = ProjectFactory(user=user)
    task = ScheduledTaskFactory(user=user, project=project)
    project_values, task_values = stored(project), stored(task)
    mark = audit_mark()

    response = api_client.delete(f"/api/projects/{project.pk}", **client_meta("req-project-del"))

    assert response.status_code == 204
    assert project_values["tasks_count"] == 1
    assert records_after(mark) == [
        (
            "UPDATE",
            "scheduled_tasks",
            str(task.pk),
            {
                "project_id": {"old": project.pk, "new": None},
                "updated_at": {"old": task_values["updated_at"], "new": stored(task)["updated_at"]},
            },
        ),
        ("DELETE", "projects", str(project.pk), project_values),
    ]
    assert origins_after(mark) == [from_request(user, "req-project-del")] * 2


# Scheduling API: tasks


def test_api_task_create_records_the_task_and_its_projects_count(api_client, user, monkeypatch):
    # A skill taking a secret: its value is redacted in the record, inside params_json too.
    monkeypatch.setitem(
        skills._registry,
        "demo.webhook",
        skills.Skill(
            name="demo.webhook",
            function=lambda params: "",
            parameters={"message": {"type": "string"}, "api_key": {"type": "string"}},
        ),
    )
    project = ProjectFactory(user=user)
    project_before = stored(project)
    mark = audit_mark()

    response = api_client.post(
        "/api/tasks",
        {
            "skill_name": "demo.webhook",
            "schedule_cron": "*/5 * * * *",
            "params_json": {"message": "hi", "api_key": "k-123"},
            "project_id": project.pk,
        },
        format="json",
        **client_meta("req-task-create"),
    )

    assert response.status_code == 201
    task = ScheduledTask.objects.get()
    values = stored(task)
    assert values == {
        "skill_name": "demo.webhook",
        "schedule_cron": "*/5 * * * *",
        "timezone": "UTC",
        "next_run_at": values["next_run_at"],
        "params_json": {"message": "hi", "api_key": "k-123"},
        "status": "pending",
        "timeout_seconds": 300,
        "project_id": project.pk,
        "user_id": user.pk,
        "claimed_by": "",
        "lease_expires_at": None,
        "created_at": values["created_at"],
        "updated_at": values["updated_at"],
    }
    assert records_after(mark) == [
        (
            "CREATE",
            "scheduled_tasks",
            str(task.pk),
            {**values, "params_json": {"message": "hi", "api_key": "[redacted]"}},
        ),
        (
            "UPDATE",
            "projects",
            str(project.pk),
            {
                "tasks_count": {"old": 0, "new": 1},
                "updated_at": change_of(project_before, project, "updated_at"),
            },
        ),
    ]
    assert origins_after(mark) == [from_request(user, "req-task-create")] * 2


def test_api_task_cron_change_records_the_new_next_run(api_client, user):
    task = ScheduledTaskFactory(user=user, schedule_cron="*/5 * * * *")
    before = stored(task)
    mark = audit_mark()

    response = api_client.patch(
        f"/api/tasks/{task.pk}",
        {"schedule_cron": "7 3 * * *"},
        format="json",
        **client_meta("req-task-cron"),
    )

    assert response.status_code == 200
    after = stored(task)
    assert after["next_run_at"] != before["next_run_at"]
    assert records_after(mark) == [
        (
            "UPDATE",
            "scheduled_tasks",
            str(task.pk),
            {
                "schedule_cron": {"old": "*/5 * * * *", "new": "7 3 * * *"},
                "next_run_at": change_of(before, task, "next_run_at"),
                "updated_at": change_of(before, task, "updated_at"),
            },
        )
    ]
    assert origins_after(mark) == [from_request(user, "req-task-cron")]


def test_api_task_move_records_the_task_and_both_projects_counts(api_client, user):
    first, second = ProjectFactory(user=user), ProjectFactory(user=user)
    task = ScheduledTaskFactory(user=user, project=first)
    task_before, first_before, second_before = stored(task), stored(first), stored(second)
    mark = audit_mark()

    response = api_client.patch(
        f"/api/tasks/{task.pk}",
        {"project_id": second.pk},
        format="json",
        **client_meta("req-task-move"),
    )

    assert response.status_code == 200
    assert records_after(mark) == [
        (
            "UPDATE",
            "scheduled_tasks",
            str(task.pk),
            {
                "project_id": {"old": first.pk, "new": second.pk},
                "updated_at": change_of(task_before, task, "updated_at"),
            },
        ),
        (
            "UPDATE",
            "projects",
            str(first.pk),
            {
                "tasks_count": {"old": 1, "new": 0},
                "updated_at": change_of(first_before, first, "updated_at"),
            },
        ),
        (
            "UPDATE",
            "projects",
            str(second.pk),
            {
                "tasks_count": {"old": 0, "new": 1},
                "updated_at": change_of(second_before, second, "updated_at"),
            },
        ),
    ]
    assert origins_after(mark) == [from_request(user, "req-task-move")] * 3


def test_api_task_delete_records_the_task_its_executions_and_its_projects_count(api_client, user):
    project = ProjectFactory(user=user)
    task = ScheduledTaskFactory(user=user, project=project)
    executions = [
        ExecutionResultFactory(task=task, scheduled_for=datetime(2026, 1, 1, hour, tzinfo=UTC))
        for hour in (1, 2)
    ]
    task_values, project_before = stored(task), stored(project)
    execution_values = [stored(execution) for execution in executions]
    mark = audit_mark()

    response = api_client.delete(f"/api/tasks/{task.pk}", **client_meta("req-task-del"))

    assert response.status_code == 204
    records = records_after(mark)
    # The cascade comes first; Django's collector picks the order of the executions.
    assert sorted(records[:2], key=lambda record: int(record[2])) == [
        ("DELETE", "execution_results", str(execution.pk), values)
        for execution, values in zip(executions, execution_values, strict=True)
    ]
    assert records[2:] == [
        ("DELETE", "scheduled_tasks", str(task.pk), task_values),
        (
            "UPDATE",
            "projects",
            str(project.pk),
            {
                "tasks_count": {"old": 1, "new": 0},
                "updated_at": change_of(project_before, project, "updated_at"),
            },
        ),
    ]
    assert origins_after(mark) == [from_request(user, "req-task-del")] * 4


def test_api_task_run_disable_and_enable_record_each_change_once(api_client, user):
    task = ScheduledTaskFactory(user=user, schedule_cron="0 3 * * *")
    initial = stored(task)
    mark = audit_mark()

    run = api_client.post(f"/api/tasks/{task.pk}/run", **client_meta("req-task-run"))
    queued = stored(task)
    disabled = api_client.post(f"/api/tasks/{task.pk}/disable", **client_meta("req-task-off"))
    off = stored(task)
    again = api_client.post(f"/api/tasks/{task.pk}/disable", **client_meta("req-task-off-2"))
    enabled = api_client.post(f"/api/tasks/{task.pk}/enable", **client_meta("req-task-on"))
    on = stored(task)
    still = api_client.post(f"/api/tasks/{task.pk}/enable", **client_meta("req-task-on-2"))

    statuses = [response.status_code for response in (run, disabled, again, enabled, still)]
    assert statuses == [202, 200, 200, 200, 200]
    assert records_after(mark) == [
        (
            "UPDATE",
            "scheduled_tasks",
            str(task.pk),
            {
                "next_run_at": {"old": initial["next_run_at"], "new": queued["next_run_at"]},
                "updated_at": {"old": initial["updated_at"], "new": queued["updated_at"]},
            },
        ),
        (
            "UPDATE",
            "scheduled_tasks",
            str(task.pk),
            {
                "status": {"old": "pending", "new": "disabled"},
                "updated_at": {"old": queued["updated_at"], "new": off["updated_at"]},
            },
        ),
        (
            "UPDATE",
            "scheduled_tasks",
            str(task.pk),
            {
                "status": {"old": "disabled", "new": "pending"},
                "next_run_at": {"old": queued["next_run_at"], "new": on["next_run_at"]},
                "updated_at": {"old": off["updated_at"], "new": on["updated_at"]},
            },
        ),
    ]
    assert origins_after(mark) == [
        from_request(user, "req-task-run"),
        from_request(user, "req-task-off"),
        from_request(user, "req-task-on"),
    ]


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
    last_values = stored(agent)
    deleted = staff_client.delete(f"/api/agents/{agent.pk}", **client_meta("req-agent-del"))

    statuses = [response.status_code for response in (created, updated, beat, deleted)]
    assert statuses == [201, 200, 200, 204]
    assert last_values["last_active_at"] is not None
    assert records_after(mark) == [
        (
            "CREATE",
            "agents",
            str(agent.pk),
            {
                "name": "coder-7",
                "type": "coder",
                "capabilities_json": ["python"],
                "status": "idle",
                "last_active_at": None,
            },
        ),
        ("UPDATE", "agents", str(agent.pk), {"status": {"old": "idle", "new": "busy"}}),
        (
            "UPDATE",
            "agents",
            str(agent.pk),
            {
                "status": {"old": "busy", "new": "active"},
                "last_active_at": {"old": None, "new": last_values["last_active_at"]},
            },
        ),
        ("DELETE", "agents", str(agent.pk), last_values),
    ]
    assert origins_after(mark) == [
        from_request(staff_user, "req-agent-create"),
        from_request(staff_user, "req-agent-update"),
        from_request(user, "req-agent-beat"),
        from_request(staff_user, "req-agent-del"),
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
        from_request(user, "req-execution-create"),
        from_request(user, "req-execution-complete"),
        from_request(user, "req-execution-del"),
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


# Admin


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser(
        username="root", email="root@example.com", password="root-password-1"
    )


@pytest.fixture
def admin_session(client, superuser):
    """The Django test client, logged in to the admin as the superuser (a session, no token)."""
    client.force_login(superuser)
    return client


def event_form(event, **changes):
    """The event's change form as a browser posts it, with the hidden initial timestamp the
    admin renders for a field with a callable default (to tell an edited timestamp apart)."""
    date, time = event.timestamp.strftime("%Y-%m-%d"), event.timestamp.strftime("%H:%M:%S")
    return {
        "event_type": event.event_type,
        "severity": event.severity,
        "message": event.message,
        "details": json.dumps(event.details),
        "source": event.source or "",
        "timestamp_0": date,
        "timestamp_1": time,
        "initial-timestamp_0": date,
        "initial-timestamp_1": time,
        **changes,
    }


NO_INLINE_ROWS = {
    "executions-TOTAL_FORMS": "0",
    "executions-INITIAL_FORMS": "0",
    "executions-MIN_NUM_FORMS": "0",
    "executions-MAX_NUM_FORMS": "1000",
}


def test_admin_event_change_form_is_refused_and_records_nothing(
    admin_session, django_capture_on_commit_callbacks
):
    # Events are a log: the admin shows them read-only, so no change reaches the audit trail.
    event = SystemEventFactory(severity="info", details={"ok": True}, source="api-1")
    mark = audit_mark()

    with django_capture_on_commit_callbacks(execute=True):
        changed = admin_session.post(
            f"/admin/events/systemevent/{event.pk}/change/",
            event_form(event, severity="error"),
            **client_meta("req-admin-event-change"),
        )

    assert changed.status_code == 403
    event.refresh_from_db()
    assert event.severity == "info"
    assert records_after(mark) == []


def test_admin_event_delete_selected_records_one_delete_per_row(
    admin_session, superuser, django_capture_on_commit_callbacks
):
    doomed = [SystemEventFactory(), SystemEventFactory()]
    kept = SystemEventFactory()
    values = {str(event.pk): stored(event) for event in doomed}
    mark = audit_mark()

    confirmation = admin_session.post(
        "/admin/events/systemevent/",
        {"action": "delete_selected", "_selected_action": [event.pk for event in doomed]},
        **client_meta("req-admin-event-confirm"),
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_session.post(
            "/admin/events/systemevent/",
            {
                "action": "delete_selected",
                "_selected_action": [event.pk for event in doomed],
                "post": "yes",
            },
            **client_meta("req-admin-event-bulk-del"),
        )

    assert [confirmation.status_code, response.status_code] == [200, 302]
    assert list(SystemEvent.objects.values_list("pk", flat=True)) == [kept.pk]
    assert sorted(records_after(mark), key=lambda record: int(record[2])) == [
        ("DELETE", "system_events", record_id, row) for record_id, row in values.items()
    ]
    assert origins_after(mark) == [from_request(superuser, "req-admin-event-bulk-del")] * 2


def test_admin_project_add_records_a_create_by_the_superuser(admin_session, superuser, user):
    mark = audit_mark()

    response = admin_session.post(
        "/admin/scheduling/project/add/",
        {"name": "Ops", "description": "from the admin", "user": user.pk},
        **client_meta("req-admin-project-add"),
    )

    assert response.status_code == 302
    project = Project.objects.get()
    values = stored(project)
    assert (values["name"], values["user_id"], values["tasks_count"]) == ("Ops", user.pk, 0)
    assert records_after(mark) == [("CREATE", "projects", str(project.pk), values)]
    assert origins_after(mark) == [from_request(superuser, "req-admin-project-add")]


def test_admin_task_add_records_the_task_and_its_projects_count(admin_session, superuser, user):
    project = ProjectFactory(user=user)
    project_before = stored(project)
    mark = audit_mark()

    response = admin_session.post(
        "/admin/scheduling/scheduledtask/add/",
        {
            "skill_name": "demo.echo",
            "schedule_cron": "0 * * * *",
            "timezone": "UTC",
            "next_run_at_0": "",
            "next_run_at_1": "",
            "params_json": '{"message": "hi"}',
            "status": "pending",
            "timeout_seconds": "60",
            "user": user.pk,
            "project": project.pk,
            **NO_INLINE_ROWS,
        },
        **client_meta("req-admin-task-add"),
    )

    assert response.status_code == 302
    task = ScheduledTask.objects.get()
    values = stored(task)
    assert (values["params_json"], values["timeout_seconds"], values["project_id"]) == (
        {"message": "hi"},
        60,
        project.pk,
    )
    assert records_after(mark) == [
        ("CREATE", "scheduled_tasks", str(task.pk), values),
        (
            "UPDATE",
            "projects",
            str(project.pk),
            {
                "tasks_count": {"old": 0, "new": 1},
                "updated_at": change_of(project_before, project, "updated_at"),
            },
        ),
    ]
    assert origins_after(mark) == [from_request(superuser, "req-admin-task-add")] * 2


def test_admin_task_delete_selected_records_each_task_and_the_count(admin_session, superuser, user):
    project = ProjectFactory(user=user)
    tasks = [ScheduledTaskFactory(user=user, project=project) for _ in range(2)]
    task_values = [stored(task) for task in tasks]
    mark = audit_mark()

    response = admin_session.post(
        "/admin/scheduling/scheduledtask/",
        {
            "action": "delete_selected",
            "_selected_action": [task.pk for task in tasks],
            "post": "yes",
        },
        **client_meta("req-admin-task-bulk-del"),
    )

    assert response.status_code == 302
    records = records_after(mark)
    deletes = sorted(
        (record for record in records if record[0] == "DELETE"), key=lambda r: int(r[2])
    )
    counts = [record[3]["tasks_count"] for record in records if record[0] == "UPDATE"]
    assert deletes == [
        ("DELETE", "scheduled_tasks", str(task.pk), values)
        for task, values in zip(tasks, task_values, strict=True)
    ]
    assert counts == [{"old": 2, "new": 1}, {"old": 1, "new": 0}]
    assert [record[:3] for record in records if record[0] == "UPDATE"] == [
        ("UPDATE", "projects", str(project.pk))
    ] * 2
    assert len(records) == 4
    assert origins_after(mark) == [from_request(superuser, "req-admin-task-bulk-del")] * 4


# Management commands


@pytest.fixture
def signal_handlers():
    """run_scheduler installs SIGTERM and SIGINT handlers: the test process gets its own back."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def test_seed_events_records_one_create_per_event_as_the_command(
    django_capture_on_commit_callbacks,
):
    mark = audit_mark()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_events", count=3, seed=7, verbosity=0)

    events = SystemEvent.objects.order_by("id")
    assert len(events) == 3
    assert records_after(mark) == [
        ("CREATE", "system_events", str(event.pk), stored(event)) for event in events
    ]
    assert origins_after(mark) == [from_system("system:seed_events")] * 3


def test_purge_events_records_one_delete_per_purged_event_as_the_command(
    django_capture_on_commit_callbacks,
):
    old = [SystemEventFactory(timestamp=timezone.now() - timedelta(days=days)) for days in (3, 5)]
    recent = SystemEventFactory()
    values = [stored(event) for event in old]
    mark = audit_mark()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("purge_events", older_than="2d", batch_size=1, verbosity=0)

    assert list(SystemEvent.objects.values_list("pk", flat=True)) == [recent.pk]
    assert sorted(records_after(mark), key=lambda record: int(record[2])) == [
        ("DELETE", "system_events", str(event.pk), row)
        for event, row in zip(old, values, strict=True)
    ]
    assert origins_after(mark) == [from_system("system:purge_events")] * 2


def test_seed_records_every_row_as_the_seed_command_events_included(
    django_capture_on_commit_callbacks,
):
    mark = audit_mark()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed", executions=1, events=2, verbosity=0)

    records = records_after(mark)
    rows = {
        model: list(model.objects.order_by("pk"))
        for model in (Project, ScheduledTask, Agent, ExecutionResult, SystemEvent)
    }
    expected = Counter(
        ("CREATE", model._meta.db_table, str(row.pk)) for model in rows for row in rows[model]
    )
    for project in rows[Project]:
        expected[("UPDATE", "projects", str(project.pk))] = project.tasks_count
    assert [len(rows[model]) for model in (Project, ExecutionResult, SystemEvent)] == [6, 21, 2]
    assert Counter(record[:3] for record in records) == expected
    # Rows that did not change after their creation: the CREATE holds what is stored.
    creates = {record[1:3]: record[3] for record in records if record[0] == "CREATE"}
    for model in (ScheduledTask, Agent, ExecutionResult, SystemEvent):
        for row in rows[model]:
            assert creates[(model._meta.db_table, str(row.pk))] == stored(row)
    # A project is created empty, then counts each of its tasks.
    for project in rows[Project]:
        assert creates[("projects", str(project.pk))]["tasks_count"] == 0
        counts = [
            record[3]["tasks_count"]
            for record in records
            if record[:3] == ("UPDATE", "projects", str(project.pk))
        ]
        assert counts == [{"old": n, "new": n + 1} for n in range(project.tasks_count)]
    assert origins_after(mark) == [from_system("system:seed")] * len(records)


def test_run_scheduler_records_the_claim_the_run_and_the_release_as_the_scheduler(
    user, signal_handlers
):
    due = timezone.now() - timedelta(minutes=1)
    task = ScheduledTaskFactory(
        user=user,
        skill_name="demo.echo",
        params_json={"message": "hello"},
        # A yearly cron: no later slot falls between `due` and now, so nothing is coalesced.
        schedule_cron="0 3 1 1 *",
        next_run_at=due,
        timeout_seconds=60,
    )
    before = stored(task)
    mark = audit_mark()

    call_command(
        "run_scheduler",
        once=True,
        worker_id="paths-worker",
        poll_interval=0.05,
        lease_margin=30,
        verbosity=0,
    )

    execution = ExecutionResult.objects.get()
    ran, after = stored(execution), stored(task)
    claimed_at = execution.started_at
    assert (ran["status"], ran["output_text"], after["status"]) == ("success", "hello", "pending")
    assert records_after(mark) == [
        (
            "CREATE",
            "execution_results",
            str(execution.pk),
            {
                "task_id": task.pk,
                "scheduled_for": before["next_run_at"],
                "started_at": ran["started_at"],
                "ended_at": None,
                "status": None,
                "output_text": "",
                "error_text": "",
                "duration_ms": None,
                "worker": "paths-worker",
            },
        ),
        (
            "UPDATE",
            "scheduled_tasks",
            str(task.pk),
            {
                "status": {"old": "pending", "new": "running"},
                "claimed_by": {"old": "", "new": "paths-worker"},
                "lease_expires_at": change(None, claimed_at + timedelta(seconds=60 + 30)),
                "updated_at": {"old": before["updated_at"], "new": encoded(claimed_at)},
            },
        ),
        (
            "UPDATE",
            "execution_results",
            str(execution.pk),
            {
                "status": {"old": None, "new": "success"},
                "ended_at": {"old": None, "new": ran["ended_at"]},
                "output_text": {"old": "", "new": "hello"},
                "duration_ms": {"old": None, "new": ran["duration_ms"]},
            },
        ),
        (
            "UPDATE",
            "scheduled_tasks",
            str(task.pk),
            {
                "status": {"old": "running", "new": "pending"},
                "claimed_by": {"old": "paths-worker", "new": ""},
                "lease_expires_at": change(claimed_at + timedelta(seconds=60 + 30), None),
                "next_run_at": {"old": before["next_run_at"], "new": after["next_run_at"]},
                "updated_at": {"old": encoded(claimed_at), "new": after["updated_at"]},
            },
        ),
    ]
    assert origins_after(mark) == [from_system("system:scheduler")] * 4


def test_run_scheduler_with_nothing_due_records_nothing(user, signal_handlers):
    ScheduledTaskFactory(user=user, next_run_at=timezone.now() + timedelta(hours=1))
    mark = audit_mark()

    call_command("run_scheduler", once=True, worker_id="paths-worker", verbosity=0)

    assert records_after(mark) == []


@pytest.mark.django_db(transaction=True)  # the skills run in their own threads and connections
def test_run_scheduler_records_what_a_skill_writes_in_its_thread_as_the_scheduler(
    user, signal_handlers, django_capture_on_commit_callbacks
):
    old_event = SystemEventFactory(timestamp=timezone.now() - timedelta(days=40))
    old_values = stored(old_event)
    due = timezone.now() - timedelta(minutes=1)
    ScheduledTaskFactory(user=user, skill_name="system.health_check", next_run_at=due)
    ScheduledTaskFactory(
        user=user,
        skill_name="events.purge",
        params_json={"older_than_days": 30},
        next_run_at=due,
    )
    mark = audit_mark()

    call_command("run_scheduler", once=True, worker_id="paths-worker", verbosity=0)

    health_event = SystemEvent.objects.get()
    skill_records = [record for record in records_after(mark) if record[1] == "system_events"]
    assert sorted(skill_records, key=lambda record: record[0]) == [
        ("CREATE", "system_events", str(health_event.pk), stored(health_event)),
        ("DELETE", "system_events", str(old_event.pk), old_values),
    ]
    assert set(origins_after(mark)) == {from_system("system:scheduler")}
    # Per task: the execution's create and completion, the claim and the release.
    assert Counter(record[:2] for record in records_after(mark)) == {
        ("CREATE", "system_events"): 1,
        ("DELETE", "system_events"): 1,
        ("CREATE", "execution_results"): 2,
        ("UPDATE", "execution_results"): 2,
        ("UPDATE", "scheduled_tasks"): 4,
    }


def test_admin_user_delete_records_every_audited_row_it_cascades_to(admin_session, superuser, user):
    project = ProjectFactory(user=user)
    task = ScheduledTaskFactory(user=user, project=project)
    execution = ExecutionResultFactory(task=task)
    values = {
        "projects": stored(project),
        "scheduled_tasks": stored(task),
        "execution_results": stored(execution),
    }
    mark = audit_mark()

    response = admin_session.post(
        f"/admin/auth/user/{user.pk}/delete/",
        {"post": "yes"},
        **client_meta("req-admin-user-del"),
    )

    assert response.status_code == 302
    records = records_after(mark)
    assert sorted(records, key=lambda record: record[1]) == [
        ("DELETE", table, record_id, values[table])
        for table, record_id in (
            ("execution_results", str(execution.pk)),
            ("projects", str(project.pk)),
            ("scheduled_tasks", str(task.pk)),
        )
    ]
    assert origins_after(mark) == [from_request(superuser, "req-admin-user-del")] * 3
