"""The admin: the change form, the add forms, the changelist's "delete selected" action and a
user's delete page record each changed row (cascades included) as the logged-in superuser."""

import json

import pytest

from events.models import SystemEvent
from events.tests.factories import SystemEventFactory
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
    assert origins_after(mark) == [from_request(superuser, response)] * 2


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
    assert origins_after(mark) == [from_request(superuser, response)]


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
    assert origins_after(mark) == [from_request(superuser, response)] * 2


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
    assert origins_after(mark) == [from_request(superuser, response)] * 4


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
    assert origins_after(mark) == [from_request(superuser, response)] * 3
