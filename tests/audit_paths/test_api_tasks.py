"""The projects and tasks API: creates, updates, moves, deletes and the run, disable and enable
actions record one row per changed row (a task's project counts included), as the token user."""

from datetime import UTC, datetime

import pytest

from scheduling import skills
from scheduling.models import Project, ScheduledTask
from scheduling.tests.factories import (
    ExecutionResultFactory,
    ProjectFactory,
    ScheduledTaskFactory,
)
from tests.audit_paths.support import (
    audit_mark,
    change_of,
    client_meta,
    from_request,
    origins_after,
    records_after,
    stored,
)

pytestmark = pytest.mark.django_db


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
        from_request(user, created),
        from_request(user, updated),
    ]


def test_api_project_delete_records_the_project_and_refuses_one_with_tasks(api_client, user):
    empty, busy = ProjectFactory(user=user), ProjectFactory(user=user)
    ScheduledTaskFactory(user=user, project=busy)
    empty_values = stored(empty)
    mark = audit_mark()

    refused = api_client.delete(f"/api/projects/{busy.pk}", **client_meta("req-project-busy"))
    response = api_client.delete(f"/api/projects/{empty.pk}", **client_meta("req-project-del"))

    assert (refused.status_code, response.status_code) == (409, 204)
    assert records_after(mark) == [("DELETE", "projects", str(empty.pk), empty_values)]
    assert origins_after(mark) == [from_request(user, response)]


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
            permission=None,
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
    assert origins_after(mark) == [from_request(user, response)] * 2


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
    assert origins_after(mark) == [from_request(user, response)]


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
    assert origins_after(mark) == [from_request(user, response)] * 3


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
    assert origins_after(mark) == [from_request(user, response)] * 4


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
        from_request(user, run),
        from_request(user, disabled),
        from_request(user, enabled),
    ]
