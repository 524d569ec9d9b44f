"""GET /api/skills and POST /api/tasks/{id}/run, /disable, /enable."""

from datetime import timedelta

import pytest
from django.utils import timezone

from scheduling.models import TaskStatus

from .scheduler_support import maintenance_permission, make_task

pytestmark = pytest.mark.django_db


def test_skills_lists_every_built_in_skill_with_its_parameters_to_a_superuser(
    superuser_client,
):
    response = superuser_client.get("/api/skills")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 11
    assert (body["next"], body["previous"]) == (None, None)
    assert [skill["name"] for skill in body["results"]] == [
        "audit.purge",
        "audit.seal",
        "audit.verify",
        "demo.echo",
        "demo.fail",
        "demo.sleep",
        "events.fold_counts",
        "events.purge",
        "partitions.maintain",
        "system.health_check",
        "tokens.purge",
    ]
    purge = body["results"][7]
    assert purge == {
        "name": "events.purge",
        "description": "Deletes system events older than a number of days, in batches.",
        "parameters": [
            {
                "name": "older_than_days",
                "type": "integer",
                "required": False,
                "default": 30,
                "description": "Events whose timestamp is older than this many days are deleted.",
                "minimum": 1,
                "maximum": 36_500,
            }
        ],
    }


def test_skills_lists_to_each_user_only_the_skills_they_may_use(
    api_client, user, staff_client, other_client, other_user
):
    other_user.user_permissions.add(maintenance_permission())

    ordinary = api_client.get("/api/skills").json()
    staff = staff_client.get("/api/skills").json()
    granted = other_client.get("/api/skills").json()

    open_skills = ["demo.echo", "demo.fail", "demo.sleep", "system.health_check"]
    assert [skill["name"] for skill in ordinary["results"]] == open_skills
    assert ordinary["count"] == 4
    # Staff without the permission are ordinary users here.
    assert [skill["name"] for skill in staff["results"]] == open_skills
    assert [skill["name"] for skill in granted["results"]] == [
        "audit.purge",
        "audit.seal",
        "audit.verify",
        *open_skills[:3],
        "events.fold_counts",
        "events.purge",
        "partitions.maintain",
        "system.health_check",
        "tokens.purge",
    ]


def test_skills_is_paginated(api_client):
    body = api_client.get("/api/skills?limit=2&offset=2").json()

    assert body["count"] == 4
    assert [skill["name"] for skill in body["results"]] == ["demo.sleep", "system.health_check"]


def test_skills_needs_authentication(anon_client):
    assert anon_client.get("/api/skills").status_code == 401


def test_run_queues_an_immediate_run(api_client, user):
    task = make_task(user, next_run_at=timezone.now() + timedelta(days=10))
    before = timezone.now()

    response = api_client.post(f"/api/tasks/{task.pk}/run")

    assert response.status_code == 202
    task.refresh_from_db()
    assert before <= task.next_run_at <= timezone.now()
    assert response.json() == {
        "id": task.pk,
        "skill_name": "demo.echo",
        "status": "pending",
        "next_run_at": task.next_run_at.isoformat().replace("+00:00", "Z"),
        "timezone": "UTC",
        "claimed_by": "",
    }


def test_run_of_a_running_task_is_a_conflict(api_client, user):
    next_run_at = timezone.now()
    task = make_task(user, status=TaskStatus.RUNNING, next_run_at=next_run_at, claimed_by="w")

    response = api_client.post(f"/api/tasks/{task.pk}/run")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "The task is running; it can be run again once this run ends."
    }
    task.refresh_from_db()
    assert (task.status, task.next_run_at) == (TaskStatus.RUNNING, next_run_at)


@pytest.mark.parametrize("action", ["run", "disable", "enable"])
def test_another_users_task_is_not_found(other_client, user, action):
    task = make_task(user, status=TaskStatus.DISABLED, next_run_at=None)

    response = other_client.post(f"/api/tasks/{task.pk}/{action}")

    assert response.status_code == 404
    task.refresh_from_db()
    assert (task.status, task.next_run_at) == (TaskStatus.DISABLED, None)


@pytest.mark.parametrize("action", ["run", "disable", "enable"])
def test_actions_need_authentication(anon_client, user, action):
    task = make_task(user, next_run_at=None)

    assert anon_client.post(f"/api/tasks/{task.pk}/{action}").status_code == 401


def test_staff_may_disable_and_enable_anyones_task(staff_client, user):
    task = make_task(user, cron="0 0 1 1 *", next_run_at=timezone.now() - timedelta(days=400))

    disabled = staff_client.post(f"/api/tasks/{task.pk}/disable")
    enabled = staff_client.post(f"/api/tasks/{task.pk}/enable/")

    assert disabled.status_code == 200
    assert disabled.json()["status"] == "disabled"
    assert enabled.status_code == 200
    task.refresh_from_db()
    assert task.status == TaskStatus.PENDING
    assert task.next_run_at > timezone.now()  # from now: the year of missed runs is not replayed
    assert enabled.json()["next_run_at"] == task.next_run_at.isoformat().replace("+00:00", "Z")


def test_get_is_not_allowed_on_an_action(api_client, user):
    task = make_task(user, next_run_at=None)

    assert api_client.get(f"/api/tasks/{task.pk}/run").status_code == 405


def test_enable_of_a_task_whose_schedule_cannot_be_read_is_a_conflict(api_client, user):
    task = make_task(user, cron="0 0 1 1 *", timezone="Mars/Olympus", status=TaskStatus.FAILED)

    response = api_client.post(f"/api/tasks/{task.pk}/enable")

    assert response.status_code == 409
    assert response.json()["detail"].startswith("The task's schedule cannot be read: ")
    task.refresh_from_db()
    assert task.status == TaskStatus.FAILED
