import html
import json
import re
from urllib.parse import quote

import pytest

from audit.models import AuditLog
from scheduling.models import Project

from .factories import AgentFactory, ExecutionResultFactory, ProjectFactory, ScheduledTaskFactory

pytestmark = pytest.mark.django_db


def body(project):
    project.refresh_from_db()
    return {
        "id": project.pk,
        "name": project.name,
        "description": project.description,
        "created_at": project.created_at.isoformat().replace("+00:00", "Z"),
        "updated_at": project.updated_at.isoformat().replace("+00:00", "Z"),
        "tasks_count": project.tasks_count,
        "user_id": project.user_id,
    }


def test_anonymous_requests_are_refused(anon_client):
    response = anon_client.get("/api/projects")

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_create_takes_the_owner_from_the_token_and_refuses_read_only_fields(
    api_client, user, other_user
):
    refused = api_client.post(
        "/api/projects",
        {"name": "Ops", "description": "d", "user_id": other_user.pk, "tasks_count": 7},
    )
    response = api_client.post("/api/projects", {"name": "Ops", "description": "d"})

    assert (refused.status_code, refused.json()) == (
        400,
        {
            "user_id": ["Read-only field: it cannot be set."],
            "tasks_count": ["Read-only field: it cannot be set."],
        },
    )
    assert response.status_code == 201
    project = Project.objects.get()
    assert (project.user, project.tasks_count) == (user, 0)
    assert response.json() == body(project)


def test_create_with_and_without_trailing_slash(api_client):
    assert api_client.post("/api/projects/", {"name": "a"}).status_code == 201
    assert api_client.post("/api/projects", {"name": "b"}).status_code == 201


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({}, {"name": ["This field is required."]}),
        ({"name": ""}, {"name": ["This field may not be blank."]}),
        ({"name": "a\x00b"}, {"name": ["Null characters are not allowed."]}),
        ({"name": "x" * 201}, {"name": ["Ensure this field has no more than 200 characters."]}),
    ],
)
def test_create_refuses_invalid_input(api_client, payload, errors):
    response = api_client.post("/api/projects", payload)

    assert (response.status_code, response.json()) == (400, errors)
    assert not Project.objects.exists()


def test_list_shows_only_the_users_projects_newest_first(api_client, user, other_user):
    older, newer = ProjectFactory(user=user), ProjectFactory(user=user)
    ProjectFactory(user=other_user)

    response = api_client.get("/api/projects")

    assert response.status_code == 200
    assert response.json() == {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [body(newer), body(older)],
    }


def test_staff_see_every_project(staff_client, user, other_user):
    ProjectFactory(user=user)
    ProjectFactory(user=other_user)

    assert staff_client.get("/api/projects").json()["count"] == 2


def test_list_filters_by_name_and_user(staff_client, user, other_user):
    mine = ProjectFactory(user=user, name="Billing pipeline")
    ProjectFactory(user=other_user, name="Billing other")
    ProjectFactory(user=user, name="Search")

    response = staff_client.get("/api/projects", {"name": "billing", "user_id": user.pk})

    assert [row["id"] for row in response.json()["results"]] == [mine.pk]


def test_list_costs_a_constant_number_of_queries(api_client, user, django_assert_num_queries):
    for _ in range(5):
        ScheduledTaskFactory(user=user, project=ProjectFactory(user=user))
    api_client.get("/api/projects")  # caches the token

    with django_assert_num_queries(3):  # the read's statement timeout, the count, the page
        response = api_client.get("/api/projects")

    assert len(response.json()["results"]) == 5


def test_another_users_project_is_404_for_every_method(api_client, other_user):
    project = ProjectFactory(user=other_user, name="theirs")
    url = f"/api/projects/{project.pk}"

    responses = [
        api_client.get(url),
        api_client.put(url, {"name": "mine"}),
        api_client.patch(url, {"name": "mine"}),
        api_client.delete(url),
    ]

    assert [response.status_code for response in responses] == [404] * 4
    assert responses[0].json() == {"detail": "Not found."}
    project.refresh_from_db()
    assert project.name == "theirs"


def test_update_refuses_tasks_count_and_user_and_changes_nothing(api_client, user, other_user):
    project = ProjectFactory(user=user, name="Old")
    audit_rows = AuditLog.objects.count()

    response = api_client.patch(
        f"/api/projects/{project.pk}",
        {"name": "Renamed", "tasks_count": 50, "user_id": other_user.pk},
    )

    assert (response.status_code, response.json()) == (
        400,
        {
            "tasks_count": ["Read-only field: it cannot be set."],
            "user_id": ["Read-only field: it cannot be set."],
        },
    )
    project.refresh_from_db()
    assert (project.name, project.tasks_count, project.user) == ("Old", 0, user)
    assert AuditLog.objects.count() == audit_rows


def test_put_replaces_the_project(api_client, user):
    project = ProjectFactory(user=user, description="old")

    response = api_client.put(f"/api/projects/{project.pk}", {"name": "New"})

    assert response.status_code == 200
    project.refresh_from_db()
    assert (project.name, project.description) == ("New", "old")


def test_delete_of_a_project_with_tasks_is_a_conflict_naming_how_many(api_client, user):
    project = ProjectFactory(user=user)
    tasks = [ScheduledTaskFactory(user=user, project=project) for _ in range(3)]
    project.refresh_from_db()
    mark = AuditLog.objects.count()

    response = api_client.delete(f"/api/projects/{project.pk}")

    assert (response.status_code, response.json()) == (
        409,
        {"detail": "This project has 3 tasks: delete or move them first."},
    )
    assert Project.objects.get(pk=project.pk).tasks_count == 3
    assert sorted(project.tasks.values_list("pk", flat=True)) == sorted(t.pk for t in tasks)
    assert AuditLog.objects.count() == mark


def test_delete_of_a_project_whose_tasks_moved_away(api_client, user, skill_name):
    project = ProjectFactory(user=user)
    task = api_client.post(
        "/api/tasks",
        {"skill_name": skill_name, "schedule_cron": "* * * * *", "project_id": project.pk},
    ).json()["id"]
    conflict = api_client.delete(f"/api/projects/{project.pk}")
    api_client.patch(f"/api/tasks/{task}", {"project_id": None})

    response = api_client.delete(f"/api/projects/{project.pk}")

    assert (conflict.status_code, conflict.json()) == (
        409,
        {"detail": "This project has 1 task: delete or move it first."},
    )
    assert (response.status_code, response.content) == (204, b"")
    assert not Project.objects.filter(pk=project.pk).exists()


def test_tasks_count_is_exact_through_the_api(api_client, user, skill_name):
    first = api_client.post("/api/projects", {"name": "first"}).json()["id"]
    second = api_client.post("/api/projects", {"name": "second"}).json()["id"]
    task = {"skill_name": skill_name, "schedule_cron": "* * * * *", "project_id": first}
    task_id = api_client.post("/api/tasks", task).json()["id"]
    api_client.post("/api/tasks", task)

    api_client.patch(f"/api/tasks/{task_id}", {"project_id": second})
    after_move = [
        api_client.get(f"/api/projects/{pk}").json()["tasks_count"] for pk in (first, second)
    ]
    api_client.delete(f"/api/tasks/{task_id}")
    after_delete = [
        api_client.get(f"/api/projects/{pk}").json()["tasks_count"] for pk in (first, second)
    ]

    assert (after_move, after_delete) == ([1, 1], [1, 0])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/tasks"),
        ("get", "/api/tasks/pending"),
        ("post", "/api/tasks"),
        ("get", "/api/agents"),
        ("get", "/api/agents/types"),
        ("post", "/api/agents/1/heartbeat"),
        ("get", "/api/executions"),
        ("get", "/api/executions/stats"),
        ("post", "/api/executions/1/complete"),
    ],
)
def test_every_scheduling_endpoint_needs_authentication(anon_client, method, path):
    response = getattr(anon_client, method)(path)

    assert (response.status_code, response.json()) == (
        401,
        {"detail": "Authentication credentials were not provided."},
    )


@pytest.mark.parametrize("collection", ["projects", "tasks", "agents", "executions"])
def test_an_id_in_a_path_is_ascii_digits(staff_client, collection):
    project = ProjectFactory()
    execution = ExecutionResultFactory(
        task=ScheduledTaskFactory(user=project.user, project=project)
    )
    pk = {
        "projects": execution.task.project_id,
        "tasks": execution.task_id,
        "agents": AgentFactory().pk,
        "executions": execution.pk,
    }[collection]
    # The same number in ARABIC-INDIC digits, which int() reads as the ASCII ones.
    other_digits = quote("".join(chr(0x660 + int(digit)) for digit in str(pk)))

    assert staff_client.get(f"/api/{collection}/{pk}").status_code == 200
    assert staff_client.get(f"/api/{collection}/{other_digits}").status_code == 404


def test_the_browsable_api_form_is_prefilled_with_what_can_be_sent_back(api_client, user):
    project = ProjectFactory(user=user, name="Ops", description="d")

    page = api_client.get(f"/api/projects/{project.pk}", HTTP_ACCEPT="text/html").content.decode()
    [content] = re.findall(r'<textarea[^>]*name="_content"[^>]*>(.*?)</textarea>', page, re.S)
    sent = api_client.put(
        f"/api/projects/{project.pk}", html.unescape(content), content_type="application/json"
    )

    assert json.loads(html.unescape(content)) == {"name": "Ops", "description": "d"}
    assert sent.status_code == 200
