"""A task runs with its owner's rights: maintenance skills need scheduling.run_maintenance_skills
of the task's owner on create, skill change, resume, enable and run (API and admin), and again
when the scheduler runs the task."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.models import AuditLog
from events.models import SystemEvent
from scheduling import services
from scheduling.models import ExecutionResult, ExecutionStatus, ScheduledTask, TaskStatus
from scheduling.scheduler import Scheduler

from .factories import ScheduledTaskFactory
from .scheduler_support import maintenance_permission, make_task, running_clock

pytestmark = pytest.mark.django_db

PERMISSION = "scheduling.run_maintenance_skills"


def refusal(username, skill_name):
    return f"{username} may not use the skill {skill_name}: it needs the permission {PERMISSION}."


def purge_task(owner, skill_name="events.purge", **fields):
    """A maintenance task of `owner`, scheduled while they held the permission, which they have
    lost since (the permission is taken back, as an operator would in the admin)."""
    owner.user_permissions.add(maintenance_permission())
    task = ScheduledTaskFactory(
        user=owner, skill_name=skill_name, params_json={"older_than_days": 30}, **fields
    )
    owner.user_permissions.remove(maintenance_permission())
    task.refresh_from_db()
    return task


def task_audit_records():
    return AuditLog.objects.filter(table_name="scheduled_tasks").count()


# The API


@pytest.mark.parametrize("skill_name", ["events.purge", "audit.purge"])
def test_an_ordinary_user_cannot_schedule_a_maintenance_skill(api_client, skill_name):
    response = api_client.post(
        "/api/tasks", {"skill_name": skill_name, "schedule_cron": "0 3 * * *"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"skill_name": [refusal("alice", skill_name)]}
    assert not ScheduledTask.objects.exists()
    assert task_audit_records() == 0


def test_staff_alone_does_not_grant_maintenance_skills(staff_client):
    response = staff_client.post(
        "/api/tasks", {"skill_name": "audit.purge", "schedule_cron": "0 3 * * *"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"skill_name": [refusal("staff", "audit.purge")]}
    assert not ScheduledTask.objects.exists()


@pytest.mark.parametrize("method", ["patch", "put"])
def test_an_ordinary_user_cannot_change_a_tasks_skill_to_a_maintenance_skill(
    api_client, user, method
):
    task = ScheduledTaskFactory(user=user, skill_name="demo.echo")
    body = {"skill_name": "events.purge"}
    if method == "put":
        body.update(schedule_cron=task.schedule_cron, params_json={})

    response = getattr(api_client, method)(f"/api/tasks/{task.pk}", body, format="json")

    assert response.status_code == 400
    assert response.json() == {"skill_name": [refusal("alice", "events.purge")]}
    task.refresh_from_db()
    assert task.skill_name == "demo.echo"
    assert task_audit_records() == 1  # its creation only


def test_an_owner_who_lost_the_permission_cannot_run_enable_or_resume_the_task(api_client, user):
    task = purge_task(user, status=TaskStatus.DISABLED)
    next_run_at, records = task.next_run_at, task_audit_records()

    run = api_client.post(f"/api/tasks/{task.pk}/run")
    enable = api_client.post(f"/api/tasks/{task.pk}/enable")
    resume = api_client.patch(f"/api/tasks/{task.pk}", {"status": "pending"}, format="json")

    assert (run.status_code, enable.status_code, resume.status_code) == (403, 403, 400)
    assert run.json() == enable.json() == {"detail": refusal("alice", "events.purge")}
    assert resume.json() == {"skill_name": [refusal("alice", "events.purge")]}
    task.refresh_from_db()
    assert (task.status, task.next_run_at) == (TaskStatus.DISABLED, next_run_at)
    assert task_audit_records() == records


def test_an_owner_who_lost_the_permission_may_still_disable_and_edit_the_task(api_client, user):
    task = purge_task(user)

    disabled = api_client.post(f"/api/tasks/{task.pk}/disable")
    edited = api_client.patch(
        f"/api/tasks/{task.pk}",
        {"schedule_cron": "0 5 * * *", "params_json": {"older_than_days": 60}},
        format="json",
    )

    assert (disabled.status_code, edited.status_code) == (200, 200)
    task.refresh_from_db()
    assert (task.status, task.schedule_cron, task.params_json) == (
        TaskStatus.DISABLED,
        "0 5 * * *",
        {"older_than_days": 60},
    )


def test_a_running_task_is_checked_when_it_would_run_again(api_client, user):
    task = purge_task(user)
    ScheduledTask.objects.filter(pk=task.pk).update(status=TaskStatus.DISABLED, claimed_by="w")

    response = api_client.patch(f"/api/tasks/{task.pk}", {"status": "pending"}, format="json")

    assert response.status_code == 400
    task.refresh_from_db()
    assert task.status == TaskStatus.DISABLED


def test_a_user_granted_the_permission_schedules_and_runs_maintenance_skills(api_client, user):
    user.user_permissions.add(maintenance_permission())

    created = api_client.post(
        "/api/tasks",
        {"skill_name": "events.purge", "schedule_cron": "0 3 * * *", "status": "disabled"},
        format="json",
    )
    task_id = created.json()["id"]
    enabled = api_client.post(f"/api/tasks/{task_id}/enable")
    run = api_client.post(f"/api/tasks/{task_id}/run")
    changed = api_client.patch(
        f"/api/tasks/{task_id}", {"skill_name": "audit.purge"}, format="json"
    )

    assert [created.status_code, enabled.status_code, run.status_code, changed.status_code] == [
        201,
        200,
        202,
        200,
    ]
    task = ScheduledTask.objects.get()
    assert (task.skill_name, task.status, task.user_id) == ("audit.purge", "pending", user.pk)


def test_a_superuser_schedules_and_runs_maintenance_skills(superuser_client, superuser):
    created = superuser_client.post(
        "/api/tasks", {"skill_name": "audit.purge", "schedule_cron": "0 3 * * *"}, format="json"
    )
    run = superuser_client.post(f"/api/tasks/{created.json()['id']}/run")

    assert (created.status_code, run.status_code) == (201, 202)
    assert ScheduledTask.objects.get().user_id == superuser.pk


def test_staff_acting_on_a_users_task_meet_the_owners_rights(superuser_client, user):
    echo = ScheduledTaskFactory(user=user, skill_name="demo.echo")
    purge = purge_task(user)

    changed = superuser_client.patch(
        f"/api/tasks/{echo.pk}", {"skill_name": "events.purge"}, format="json"
    )
    run = superuser_client.post(f"/api/tasks/{purge.pk}/run")

    assert (changed.status_code, run.status_code) == (400, 403)
    assert changed.json() == {"skill_name": [refusal("alice", "events.purge")]}
    assert run.json() == {"detail": refusal("alice", "events.purge")}
    echo.refresh_from_db()
    assert echo.skill_name == "demo.echo"


def test_a_deactivated_owners_task_cannot_be_enabled(staff_client, user):
    task = ScheduledTaskFactory(user=user, status=TaskStatus.DISABLED)
    user.is_active = False
    user.save(update_fields=["is_active"])

    response = staff_client.post(f"/api/tasks/{task.pk}/enable")

    assert response.status_code == 403
    assert response.json() == {
        "detail": "alice may not use the skill demo.echo: the account is deactivated."
    }
    task.refresh_from_db()
    assert task.status == TaskStatus.DISABLED


def test_services_refuse_as_the_api_does(user):
    with pytest.raises(ValidationError) as refused:
        services.task_create(user=user, skill_name="events.purge", schedule_cron="0 3 * * *")

    assert refused.value.message_dict == {"skill_name": [refusal("alice", "events.purge")]}
    assert not ScheduledTask.objects.exists()


# The admin

NO_INLINE_ROWS = {
    "executions-TOTAL_FORMS": "0",
    "executions-INITIAL_FORMS": "0",
    "executions-MIN_NUM_FORMS": "0",
    "executions-MAX_NUM_FORMS": "1000",
}


def admin_form(*, user, skill_name, status="pending", cron="0 3 * * *"):
    return {
        "skill_name": skill_name,
        "schedule_cron": cron,
        "timezone": "UTC",
        "next_run_at_0": "",
        "next_run_at_1": "",
        "params_json": "{}",
        "status": status,
        "timeout_seconds": 300,
        "user": user.pk,
        "project": "",
        **NO_INLINE_ROWS,
    }


def test_the_admin_refuses_a_maintenance_task_for_an_ordinary_owner(admin_client, user):
    response = admin_client.post(
        "/admin/scheduling/scheduledtask/add/", admin_form(user=user, skill_name="events.purge")
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "skill_name": [refusal("alice", "events.purge")]
    }
    assert not ScheduledTask.objects.exists()


def test_the_admin_schedules_a_maintenance_task_for_a_granted_owner(admin_client, user):
    user.user_permissions.add(maintenance_permission())

    response = admin_client.post(
        "/admin/scheduling/scheduledtask/add/", admin_form(user=user, skill_name="audit.purge")
    )

    assert response.status_code == 302
    assert ScheduledTask.objects.get().skill_name == "audit.purge"


def test_the_admin_refuses_a_skill_change_and_a_resume_the_owner_may_not_use(admin_client, user):
    echo = ScheduledTaskFactory(user=user, skill_name="demo.echo", schedule_cron="0 3 * * *")
    purge = purge_task(user, status=TaskStatus.DISABLED, schedule_cron="0 3 * * *")

    changed = admin_client.post(
        f"/admin/scheduling/scheduledtask/{echo.pk}/change/",
        admin_form(user=user, skill_name="events.purge"),
    )
    resumed = admin_client.post(
        f"/admin/scheduling/scheduledtask/{purge.pk}/change/",
        admin_form(user=user, skill_name="events.purge"),
    )
    edited = admin_client.post(
        f"/admin/scheduling/scheduledtask/{purge.pk}/change/",
        admin_form(user=user, skill_name="events.purge", status="disabled", cron="0 4 * * *"),
    )

    for refused in (changed, resumed):
        assert refused.status_code == 200
        assert refused.context["adminform"].form.errors == {
            "skill_name": [refusal("alice", "events.purge")]
        }
    assert edited.status_code == 302  # disabled, it may still be edited
    echo.refresh_from_db()
    purge.refresh_from_db()
    assert echo.skill_name == "demo.echo"
    assert (purge.status, purge.schedule_cron) == (TaskStatus.DISABLED, "0 4 * * *")


def test_the_admins_run_now_and_enable_actions_meet_the_owners_rights(admin_client, user):
    future = datetime(2035, 1, 1, tzinfo=UTC)
    disabled = purge_task(user, status=TaskStatus.DISABLED, next_run_at=future)
    pending = purge_task(user, next_run_at=future)
    notes = {}

    for action, task in (("enable", disabled), ("run_now", pending)):
        response = admin_client.post(
            "/admin/scheduling/scheduledtask/",
            {"action": action, "_selected_action": [task.pk]},
            follow=True,
        )
        notes[action] = [str(message) for message in response.context["messages"]]

    assert notes == {
        "enable": [f"Task {disabled.pk}: {refusal('alice', 'events.purge')}"],
        "run_now": [f"Task {pending.pk}: {refusal('alice', 'events.purge')}"],
    }
    disabled.refresh_from_db()
    pending.refresh_from_db()
    assert (disabled.status, disabled.next_run_at) == (TaskStatus.DISABLED, future)
    assert (pending.status, pending.next_run_at) == (TaskStatus.PENDING, future)


# The scheduler, at run time

NOW = datetime(2026, 6, 1, 12, 2, 30, tzinfo=UTC)


def old_rows():
    """An event and an audit record older than any purge's age: what a purge would delete."""
    event = SystemEvent.objects.create(
        event_type="x",
        severity="info",
        message="old",
        timestamp=timezone.now() - timedelta(days=400),
    )
    record = AuditLog.objects.create(
        timestamp=timezone.now() - timedelta(days=400),
        operation="CREATE",
        table_name="system_events",
        record_id="0",
        changed_fields={},
    )
    return event, record


def demote(user, how):
    if how == "permission removed":
        user.user_permissions.remove(maintenance_permission())
    elif how == "no longer superuser":
        user.is_superuser = False
    else:
        user.is_active = False
    user.save()


# How an owner loses the right to a maintenance skill, and what the failed run says.
LOST = {
    "permission removed": f"it needs the permission {PERMISSION}.",
    "no longer superuser": f"it needs the permission {PERMISSION}.",
    "deactivated": "the account is deactivated.",
}


@pytest.mark.parametrize("how", LOST)
@pytest.mark.parametrize("skill_name", ["events.purge", "audit.purge"])
def test_the_scheduler_refuses_a_task_whose_owner_lost_the_right(user, how, skill_name):
    if how == "no longer superuser":
        user.is_superuser = True
        user.save()
    else:
        user.user_permissions.add(maintenance_permission())
    task = make_task(
        user,
        skill_name=skill_name,
        params_json={"older_than_days": 1},
        next_run_at=NOW - timedelta(minutes=1),
    )
    event, record = old_rows()
    demote(user, how)

    Scheduler(worker_id="test-worker", poll_interval=0.05, clock=running_clock(NOW)).run(once=True)

    execution = ExecutionResult.objects.get(task=task)
    assert (execution.status, execution.output_text, execution.traceback_text) == (
        ExecutionStatus.FAILED,
        "",
        "",
    )
    assert execution.error_text == (
        f"alice may not use the skill {skill_name}: {LOST[how]} Nothing ran."
    )
    task.refresh_from_db()
    assert (task.status, task.claimed_by) == (TaskStatus.FAILED, "")
    assert SystemEvent.objects.filter(pk=event.pk).exists()
    assert AuditLog.objects.filter(pk=record.pk).exists()
