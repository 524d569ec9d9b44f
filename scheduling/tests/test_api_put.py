"""PUT replaces, PATCH changes the fields sent: on every scheduling endpoint, as DRF does (an
event's PUT is partial, by its contract: events/tests)."""

import pytest

from scheduling.models import Agent, ExecutionResult, Project, ScheduledTask

from .factories import AgentFactory, ExecutionResultFactory, ProjectFactory, ScheduledTaskFactory

pytestmark = pytest.mark.django_db

REQUIRED = ["This field is required."]


def rows(staff_user):
    task = ScheduledTaskFactory(user=staff_user)
    return {
        "projects": (ProjectFactory(user=staff_user), {"description": "d"}, ["name"]),
        "tasks": (task, {"timeout_seconds": 10}, ["schedule_cron", "skill_name"]),
        "agents": (AgentFactory(), {"status": "busy"}, ["name", "type"]),
        "executions": (ExecutionResultFactory(task=task), {"worker": "w"}, ["task_id"]),
    }


MODELS = {
    "projects": Project,
    "tasks": ScheduledTask,
    "agents": Agent,
    "executions": ExecutionResult,
}


@pytest.mark.parametrize("resource", MODELS)
def test_put_needs_every_required_field_and_patch_does_not(staff_client, staff_user, resource):
    row, fields, required = rows(staff_user)[resource]
    before = list(MODELS[resource].objects.filter(pk=row.pk).values())

    put = staff_client.put(f"/api/{resource}/{row.pk}", fields, format="json")
    unchanged = list(MODELS[resource].objects.filter(pk=row.pk).values())
    patch = staff_client.patch(f"/api/{resource}/{row.pk}", fields, format="json")

    assert (put.status_code, put.json()) == (400, dict.fromkeys(required, REQUIRED))
    assert unchanged == before
    assert patch.status_code == 200
    assert {name: patch.json()[name] for name in fields} == fields
