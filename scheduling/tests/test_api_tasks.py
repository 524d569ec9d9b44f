from datetime import UTC, datetime, timedelta

import pytest
from django.utils.timezone import now

from audit.models import AuditLog
from scheduling import services
from scheduling.cron import next_run
from scheduling.models import ScheduledTask

from .factories import ProjectFactory, ScheduledTaskFactory

pytestmark = pytest.mark.django_db


def iso(moment):
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def body(task):
    task.refresh_from_db()
    return {
        "id": task.pk,
        "skill_name": task.skill_name,
        "schedule_cron": task.schedule_cron,
        "timezone": task.timezone,
        "next_run_at": iso(task.next_run_at),
        "params_json": task.params_json,
        "status": task.status,
        "timeout_seconds": task.timeout_seconds,
        "project_id": task.project_id,
        "user_id": task.user_id,
        "claimed_by": task.claimed_by,
        "lease_expires_at": iso(task.lease_expires_at),
        "created_at": iso(task.created_at),
        "updated_at": iso(task.updated_at),
    }


def test_create_computes_next_run_and_takes_the_owner_from_the_token(api_client, user, skill_name):
    project = ProjectFactory(user=user)
    before = now()

    response = api_client.post(
        "/api/tasks",
        {
            "skill_name": skill_name,
            "schedule_cron": "30 2 * * *",
            "timezone": "Europe/Berlin",
            "params_json": {"message": "two"},
            "project_id": project.pk,
        },
    )

    assert response.status_code == 201
    task = ScheduledTask.objects.get()
    assert (task.user, task.claimed_by, task.project) == (user, "", project)
    assert task.next_run_at == next_run("30 2 * * *", "Europe/Berlin", before)
    assert response.json() == body(task)
    project.refresh_from_db()
    assert project.tasks_count == 1


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({"skill_name": "no.such"}, {"skill_name": ["Unknown skill 'no.such'."]}),
        (
            {"schedule_cron": "61 * * * *"},
            {"schedule_cron": ["'61 * * * *' is not a valid cron expression."]},
        ),
        (
            {"schedule_cron": "0 0 31 2 *"},
            {"schedule_cron": ["'0 0 31 2 *' never fires (no such date)."]},
        ),
        (
            {"schedule_cron": "0 0 * * * *"},
            {
                "schedule_cron": [
                    "A cron expression has exactly five fields (minute hour day month weekday);"
                    " got 6."
                ]
            },
        ),
        (
            {"timezone": "Nowhere/City"},
            {
                "timezone": [
                    "Unknown time zone 'Nowhere/City': use an IANA name such as 'Europe/Berlin'."
                ]
            },
        ),
        ({"params_json": [1]}, {"params_json": ["Must be a JSON object."]}),
        ({"params_json": "text"}, {"params_json": ["Must be a JSON object."]}),
        (
            {"params_json": {"message": "\x00"}},
            {"params_json": ["Null characters are not allowed."]},
        ),
        (
            {"params_json": {"mesage": "typo", "message": 3}},
            {
                "params_json": [
                    "demo.echo has no parameter 'mesage'; it takes message.",
                    "'message' must be a string; got 3.",
                ]
            },
        ),
        (
            {
                "params_json": {
                    "message": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]
                }
            },
            {"params_json": ["Nested more than 32 levels deep."]},
        ),
        ({"skill_name": "a\x00"}, {"skill_name": ["Null characters are not allowed."]}),
        (
            {"timeout_seconds": 0},
            {"timeout_seconds": ["Ensure this value is greater than or equal to 1."]},
        ),
        (
            {"timeout_seconds": 3601},
            {"timeout_seconds": ["Ensure this value is less than or equal to 3600."]},
        ),
        (
            {"timeout_seconds": 2**31 - 1},
            {"timeout_seconds": ["Ensure this value is less than or equal to 3600."]},
        ),
        ({"project_id": 999999}, {"project_id": ['Invalid pk "999999" - object does not exist.']}),
        ({"project_id": "x"}, {"project_id": ["Expected a JSON integer, got a string."]}),
        (
            {"project_id": 1.5},
            {"project_id": ["Expected a JSON integer, got a number."]},
        ),
        (
            {"next_run_at": "2026-01-01T00:00:00\x00Z"},
            {
                "next_run_at": [
                    "Datetime has wrong format. Use one of these formats instead: "
                    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
                ]
            },
        ),
        (
            {"project_id": True},
            {"project_id": ["Expected a JSON integer, got true."]},
        ),
        (
            {"project_id": "1_0"},
            {"project_id": ["Expected a JSON integer, got a string."]},
        ),
        (
            {"project_id": "\u0661"},
            {"project_id": ["Expected a JSON integer, got a string."]},
        ),
        (
            {"project_id": [[[[1]]]]},
            {"project_id": ["Expected a JSON integer, got an array."]},
        ),
    ],
)
def test_create_refuses_invalid_input(api_client, skill_name, payload, errors):
    valid = {"skill_name": skill_name, "schedule_cron": "* * * * *"}

    response = api_client.post("/api/tasks", {**valid, **payload})

    assert (response.status_code, response.json()) == (400, errors)
    assert not ScheduledTask.objects.exists()


def test_create_in_another_users_project_is_refused_as_if_it_did_not_exist(
    api_client, other_user, skill_name
):
    project = ProjectFactory(user=other_user)

    response = api_client.post(
        "/api/tasks",
        {"skill_name": skill_name, "schedule_cron": "* * * * *", "project_id": project.pk},
    )

    assert (response.status_code, response.json()) == (
        400,
        {"project_id": [f'Invalid pk "{project.pk}" - object does not exist.']},
    )


def test_staff_cannot_attach_a_task_to_another_users_project(staff_client, user, skill_name):
    project = ProjectFactory(user=user)

    response = staff_client.post(
        "/api/tasks",
        {"skill_name": skill_name, "schedule_cron": "* * * * *", "project_id": project.pk},
    )

    assert (response.status_code, response.json()) == (
        400,
        {"project_id": ["The project belongs to another user."]},
    )


def test_staff_can_move_a_users_task_between_that_users_projects(staff_client, user):
    first, second = ProjectFactory(user=user), ProjectFactory(user=user)
    task = ScheduledTaskFactory(user=user, project=first)

    response = staff_client.patch(f"/api/tasks/{task.pk}", {"project_id": second.pk})

    assert response.status_code == 200
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.tasks_count, second.tasks_count) == (0, 1)


def test_list_is_scoped_and_filtered(api_client, user, other_user):
    project = ProjectFactory(user=user)
    wanted = ScheduledTaskFactory(user=user, project=project)
    ScheduledTaskFactory(user=user)
    ScheduledTaskFactory(user=other_user)

    everything = api_client.get("/api/tasks").json()
    filtered = api_client.get("/api/tasks", {"project_id": project.pk, "status": "pending"}).json()

    assert everything["count"] == 2
    assert filtered == {"count": 1, "next": None, "previous": None, "results": [body(wanted)]}


def test_list_refuses_invalid_filters(api_client):
    response = api_client.get(
        "/api/tasks", {"status": "sleeping", "next_run_after": "soon", "project_id": "abc"}
    )

    assert response.status_code == 400
    assert response.json() == {
        "status": ['"sleeping" is not a valid choice.'],
        "next_run_after": ["Enter a valid date/time."],
        "project_id": ["A valid integer is required."],
    }


def test_list_costs_a_constant_number_of_queries(api_client, user, django_assert_num_queries):
    for _ in range(5):
        ScheduledTaskFactory(user=user, project=ProjectFactory(user=user))
    api_client.get("/api/tasks")

    with django_assert_num_queries(3):  # the read's statement timeout, the count, the page
        response = api_client.get("/api/tasks")

    assert response.json()["count"] == 5


def test_running_is_the_schedulers_and_a_body_asking_for_it_changes_nothing(api_client, user):
    task = ScheduledTaskFactory(user=user)
    audit_rows = AuditLog.objects.count()

    response = api_client.patch(
        f"/api/tasks/{task.pk}", {"status": "running", "timeout_seconds": 9}
    )

    assert (response.status_code, response.json()) == (
        400,
        {
            "status": [
                "running is set by the scheduler when it runs the task: use POST "
                "/api/tasks/{id}/run."
            ]
        },
    )
    task.refresh_from_db()
    assert (task.status, task.claimed_by, task.timeout_seconds) == ("pending", "", 300)
    assert AuditLog.objects.count() == audit_rows


def test_an_edit_never_overwrites_a_claim_made_meanwhile(user):
    task = ScheduledTaskFactory(user=user)
    stale = ScheduledTask.objects.get(pk=task.pk)
    ScheduledTask.objects.filter(pk=task.pk).update(status="running", claimed_by="worker-1")

    services.task_update(task=stale, data={"params_json": {"message": "a"}})

    task.refresh_from_db()
    assert (task.status, task.claimed_by, task.params_json) == (
        "running",
        "worker-1",
        {"message": "a"},
    )


def test_another_users_task_is_404(api_client, other_user):
    task = ScheduledTaskFactory(user=other_user)
    url = f"/api/tasks/{task.pk}"

    statuses = [
        api_client.get(url).status_code,
        api_client.patch(url, {"status": "disabled"}).status_code,
        api_client.delete(url).status_code,
    ]

    assert statuses == [404, 404, 404]
    task.refresh_from_db()
    assert task.status == "pending"


def test_a_patch_that_changes_nothing_writes_nothing(api_client, user):
    project = ProjectFactory(user=user)
    task = ScheduledTaskFactory(user=user, project=project, schedule_cron="0 9 * * *")
    project.refresh_from_db()
    written, records = project.updated_at, AuditLog.objects.count()

    answers = [
        api_client.patch(f"/api/tasks/{task.pk}", {"schedule_cron": "0 9 * * *"}),
        api_client.patch(f"/api/tasks/{task.pk}", {"project_id": project.pk}),
        api_client.patch(f"/api/projects/{project.pk}", {"name": project.name}),
    ]

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    project.refresh_from_db()
    assert ScheduledTask.objects.get(pk=task.pk).updated_at == task.updated_at
    assert project.updated_at == written
    assert AuditLog.objects.count() == records


def test_a_null_next_run_recomputed_to_the_same_slot_writes_nothing(api_client):
    created = api_client.post(
        "/api/tasks", {"skill_name": "demo.echo", "schedule_cron": "0 9 * * *"}, format="json"
    ).json()
    task = ScheduledTask.objects.get(pk=created["id"])

    response = api_client.patch(f"/api/tasks/{task.pk}", {"next_run_at": None}, format="json")

    assert response.json()["next_run_at"] == created["next_run_at"]
    assert ScheduledTask.objects.get(pk=task.pk).updated_at == task.updated_at


def test_patch_cron_recomputes_next_run(api_client, user):
    task = ScheduledTaskFactory(user=user, next_run_at=datetime(2035, 1, 1, tzinfo=UTC))
    before = now()

    response = api_client.patch(f"/api/tasks/{task.pk}", {"schedule_cron": "0 6 * * *"})

    assert response.status_code == 200
    assert response.json()["next_run_at"] == iso(next_run("0 6 * * *", "UTC", before))


def test_patch_next_run_to_null_recomputes_it_from_the_cron_as_on_create(api_client, user):
    task = ScheduledTaskFactory(
        user=user, schedule_cron="30 4 * * *", next_run_at=datetime(2035, 1, 1, tzinfo=UTC)
    )
    before = now()

    response = api_client.patch(f"/api/tasks/{task.pk}", {"next_run_at": None})

    assert response.status_code == 200
    assert response.json()["next_run_at"] == iso(next_run("30 4 * * *", "UTC", before))
    task.refresh_from_db()
    assert task.next_run_at == next_run("30 4 * * *", "UTC", before)


def test_a_task_stored_under_older_rules_stays_editable_in_its_other_fields(api_client, user):
    task = ScheduledTaskFactory(user=user, skill_name="demo.fail")
    # Values validation refuses but an older row may hold: a parameter demo.fail does not take,
    # croniter's R.
    ScheduledTask.objects.filter(pk=task.pk).update(
        params_json={"reason": "old"}, schedule_cron="R * * * *"
    )

    edited = api_client.patch(f"/api/tasks/{task.pk}", {"timeout_seconds": 60})
    refused = api_client.patch(f"/api/tasks/{task.pk}", {"params_json": {"reason": "new"}})

    assert edited.status_code == 200
    assert (refused.status_code, refused.json()) == (
        400,
        {"params_json": ["demo.fail has no parameter 'reason'; it takes message."]},
    )
    task.refresh_from_db()
    assert (task.timeout_seconds, task.params_json) == (60, {"reason": "old"})


def test_patch_cannot_change_the_owner(api_client, user, other_user):
    task = ScheduledTaskFactory(user=user)

    response = api_client.patch(f"/api/tasks/{task.pk}", {"user_id": other_user.pk})

    assert (response.status_code, response.json()) == (
        400,
        {"user_id": ["Read-only field: it cannot be set."]},
    )
    task.refresh_from_db()
    assert task.user == user


def test_delete_removes_the_task(api_client, user):
    task = ScheduledTaskFactory(user=user)

    response = api_client.delete(f"/api/tasks/{task.pk}/")

    assert response.status_code == 204
    assert not ScheduledTask.objects.exists()


def test_pending_lists_due_tasks_oldest_first(api_client, user, other_user):
    moment = now()
    late = ScheduledTaskFactory(user=user, next_run_at=moment - timedelta(minutes=1))
    early = ScheduledTaskFactory(user=user, next_run_at=moment - timedelta(hours=1))
    ScheduledTaskFactory(user=user, next_run_at=moment + timedelta(hours=1))
    ScheduledTaskFactory(user=user, next_run_at=moment - timedelta(hours=2), status="disabled")
    ScheduledTaskFactory(user=other_user, next_run_at=moment - timedelta(hours=3))

    response = api_client.get("/api/tasks/pending")

    assert response.status_code == 200
    assert response.json() == {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [body(early), body(late)],
    }


def test_staff_see_every_pending_task(staff_client, user, other_user):
    ScheduledTaskFactory(user=user, next_run_at=now() - timedelta(minutes=1))
    ScheduledTaskFactory(user=other_user, next_run_at=now() - timedelta(minutes=1))

    assert staff_client.get("/api/tasks/pending").json()["count"] == 2


def test_pending_costs_a_constant_number_of_queries(api_client, user, django_assert_num_queries):
    for _ in range(5):
        ScheduledTaskFactory(user=user, next_run_at=now() - timedelta(minutes=1))
    api_client.get("/api/tasks/pending")

    with django_assert_num_queries(3):  # the read's statement timeout, the count, the page
        api_client.get("/api/tasks/pending")


def test_put_replaces_the_task(api_client, user, skill_name):
    task = ScheduledTaskFactory(user=user, params_json={"message": "old"})

    response = api_client.put(
        f"/api/tasks/{task.pk}",
        {
            "skill_name": skill_name,
            "schedule_cron": "0 12 * * *",
            "params_json": {"message": "new"},
        },
    )

    assert response.status_code == 200
    task.refresh_from_db()
    assert (task.schedule_cron, task.params_json) == ("0 12 * * *", {"message": "new"})


def test_options_describes_the_endpoint(api_client, user):
    task = ScheduledTaskFactory(user=user)

    assert api_client.options("/api/tasks").status_code == 200
    assert api_client.options(f"/api/tasks/{task.pk}").status_code == 200


def test_a_foreign_key_beyond_a_float_is_a_field_error(api_client, skill_name):
    body = f'{{"skill_name": "{skill_name}", "schedule_cron": "* * * * *", "project_id": 1e400}}'

    response = api_client.generic("POST", "/api/tasks", body, content_type="application/json")

    assert (response.status_code, response.json()) == (
        400,
        {"project_id": ["Expected a JSON integer, got a number."]},
    )
    assert not ScheduledTask.objects.exists()


@pytest.mark.parametrize("form", ["multipart", "urlencoded"])
def test_a_form_body_is_refused_as_unsupported(api_client, skill_name, form):
    data = {"skill_name": skill_name, "schedule_cron": "* * * * *"}
    if form == "multipart":
        response = api_client.post("/api/tasks", data, format="multipart")
    else:
        response = api_client.generic(
            "POST",
            "/api/tasks",
            f"skill_name={skill_name}&schedule_cron=*+*+*+*+*",
            content_type="application/x-www-form-urlencoded",
        )

    assert response.status_code == 415
    assert response.json()["detail"].startswith("Unsupported media type")
    assert not ScheduledTask.objects.exists()


@pytest.mark.parametrize("status", ["disabled", "completed", "failed"])
def test_patch_sets_the_status_and_is_audited(api_client, user, status):
    task = ScheduledTaskFactory(user=user)

    response = api_client.patch(f"/api/tasks/{task.pk}", {"status": status})

    assert (response.status_code, response.json()["status"]) == (200, status)
    task.refresh_from_db()
    assert task.status == status
    record = AuditLog.objects.filter(
        table_name="scheduled_tasks", record_id=str(task.pk), operation="UPDATE"
    ).get()
    assert record.changed_fields["status"] == {"old": "pending", "new": status}


@pytest.mark.parametrize("status", ["pending", "disabled", "completed", "failed"])
def test_create_takes_the_status(api_client, skill_name, status):
    response = api_client.post(
        "/api/tasks", {"skill_name": skill_name, "schedule_cron": "* * * * *", "status": status}
    )

    assert (response.status_code, response.json()["status"]) == (201, status)
    assert ScheduledTask.objects.get().status == status


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("paused", '"paused" is not a valid choice.'),
        ("", '"" is not a valid choice.'),
        (None, "This field may not be null."),
        (
            "running",
            "running is set by the scheduler when it runs the task: use POST /api/tasks/{id}/run.",
        ),
    ],
)
def test_an_invalid_status_is_refused_on_create_and_update(
    api_client, user, skill_name, status, message
):
    task = ScheduledTaskFactory(user=user)
    audit_rows = AuditLog.objects.count()

    created = api_client.post(
        "/api/tasks", {"skill_name": skill_name, "schedule_cron": "* * * * *", "status": status}
    )
    updated = api_client.patch(f"/api/tasks/{task.pk}", {"status": status})

    assert (created.status_code, created.json()) == (400, {"status": [message]})
    assert (updated.status_code, updated.json()) == (400, {"status": [message]})
    assert list(ScheduledTask.objects.values_list("pk", "status")) == [(task.pk, "pending")]
    assert AuditLog.objects.count() == audit_rows


def test_disable_and_enable_stay_shortcuts_for_the_status(api_client, user):
    task = ScheduledTaskFactory(user=user)

    disabled = api_client.post(f"/api/tasks/{task.pk}/disable").json()["status"]
    enabled = api_client.post(f"/api/tasks/{task.pk}/enable").json()["status"]

    assert (disabled, enabled) == ("disabled", "pending")


def test_another_users_task_status_cannot_be_set(other_client, user):
    task = ScheduledTaskFactory(user=user)

    response = other_client.patch(f"/api/tasks/{task.pk}", {"status": "disabled"})

    assert response.status_code == 404
    task.refresh_from_db()
    assert task.status == "pending"
