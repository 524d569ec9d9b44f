"""Writes that race each other over HTTP, on a live server: a PATCH and a DELETE of the same row
sent at the same moment are answered 200/204/404, never 500, and the audit trail holds exactly
what committed; two updates both land; of two completions of one execution, one wins and the
other is told why (409)."""

import threading

import pytest
import requests
from django.utils import timezone

from audit.models import AuditLog
from events.models import SystemEvent
from scheduling.models import Agent, ExecutionResult, Project, ScheduledTask
from scheduling.tests.factories import (
    AgentFactory,
    ExecutionResultFactory,
    ProjectFactory,
    ScheduledTaskFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)  # a live server on its own connections

ROUNDS = 15


@pytest.fixture
def send(live_server, staff_user):
    """Sends a JSON request as staff (who may change every row) to the live server."""
    answer = requests.post(
        f"{live_server.url}/api/auth/token",
        json={"username": "staff", "password": "staff-password-1"},
        timeout=10,
    )
    headers = {"Authorization": f"Token {answer.json()['token']}"}

    def send(method, path, body=None):
        return requests.request(
            method, f"{live_server.url}{path}", json=body, headers=headers, timeout=30
        )

    return send


def at_once(send, *requests):
    """Sends each request (send's arguments) from its own thread, all released together; returns
    the responses in order."""
    barrier = threading.Barrier(len(requests))
    results = [None] * len(requests)

    def run(index, request):
        barrier.wait()
        results[index] = send(*request)

    threads = [threading.Thread(target=run, args=item) for item in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def trail(model, pk):
    return list(
        AuditLog.objects.filter(table_name=model._meta.db_table, record_id=str(pk))
        .order_by("id")
        .values_list("operation", "changed_fields")
    )


def new_event(staff):
    return SystemEvent.objects.create(
        event_type="deploy", severity="info", message="before", timestamp=timezone.now()
    )


def new_execution(staff):
    return ExecutionResultFactory(
        task=ScheduledTaskFactory(user=staff), status=None, ended_at=None, duration_ms=None
    )


RESOURCES = {
    "events": (SystemEvent, new_event, "message"),
    "projects": (Project, lambda staff: ProjectFactory(user=staff), "description"),
    "tasks": (ScheduledTask, lambda staff: ScheduledTaskFactory(user=staff), "schedule_cron"),
    "agents": (Agent, lambda staff: AgentFactory(), "name"),
    "executions": (ExecutionResult, new_execution, "worker"),
}
PATCHED = {"message": "after", "description": "after", "schedule_cron": "0 3 * * *"}


@pytest.mark.parametrize("resource", RESOURCES)
def test_a_patch_racing_a_delete_is_answered_and_audited_as_it_committed(
    resource, send, staff_user
):
    model, create, field = RESOURCES[resource]
    outcomes = set()
    for round_number in range(ROUNDS):
        row = create(staff_user)
        old = getattr(row, field)
        new = PATCHED.get(field, f"after-{round_number}")

        patched, deleted = at_once(
            send,
            ("PATCH", f"/api/{resource}/{row.pk}", {field: new}),
            ("DELETE", f"/api/{resource}/{row.pk}"),
        )

        assert deleted.status_code == 204, deleted.text
        assert not model.objects.filter(pk=row.pk).exists()
        records = trail(model, row.pk)
        if patched.status_code == 200:
            # The update committed first: its record, then the deletion of the updated row.
            assert patched.json()[field] == new
            assert [operation for operation, _ in records] == ["CREATE", "UPDATE", "DELETE"]
            assert records[1][1][field] == {"old": old, "new": new}
            assert records[2][1][field] == new
        else:
            assert (patched.status_code, patched.json()) == (404, {"detail": "Not found."})
            assert records == [("CREATE", records[0][1]), ("DELETE", records[1][1])]
            assert records[1][1][field] == old
        outcomes.add(patched.status_code)
    assert outcomes <= {200, 404}


@pytest.mark.parametrize("resource", RESOURCES)
def test_two_deletes_at_once_delete_once(resource, send, staff_user):
    model, create, _ = RESOURCES[resource]
    row = create(staff_user)

    first, second = at_once(
        send, ("DELETE", f"/api/{resource}/{row.pk}"), ("DELETE", f"/api/{resource}/{row.pk}")
    )

    assert sorted([first.status_code, second.status_code]) == [204, 404]
    assert [operation for operation, _ in trail(model, row.pk)] == ["CREATE", "DELETE"]


def test_two_updates_at_once_both_land(send, staff_user):
    for _ in range(ROUNDS):
        project = ProjectFactory(user=staff_user, name="before", description="before")

        renamed, described = at_once(
            send,
            ("PATCH", f"/api/projects/{project.pk}", {"name": "renamed"}),
            ("PATCH", f"/api/projects/{project.pk}", {"description": "described"}),
        )

        assert (renamed.status_code, described.status_code) == (200, 200)
        project.refresh_from_db()
        assert (project.name, project.description) == ("renamed", "described")
        changes = [fields for _, fields in trail(Project, project.pk)[1:]]
        assert sorted(sorted(set(fields) - {"updated_at"}) for fields in changes) == [
            ["description"],
            ["name"],
        ]


def test_two_completions_at_once_leave_one_final_status(send, staff_user):
    for _ in range(ROUNDS):
        execution = new_execution(staff_user)
        path = f"/api/executions/{execution.pk}/complete"

        answers = at_once(
            send, ("POST", path, {"status": "success"}), ("POST", path, {"status": "failed"})
        )

        [winner] = [answer for answer in answers if answer.status_code == 200]
        [loser] = [answer for answer in answers if answer.status_code != 200]
        final = winner.json()["status"]
        assert (loser.status_code, loser.json()) == (
            409,
            {"detail": f"This execution is already complete ({final})."},
        )
        execution.refresh_from_db()
        assert execution.status == final
        assert [operation for operation, _ in trail(ExecutionResult, execution.pk)] == [
            "CREATE",
            "UPDATE",
        ]


def test_a_running_execution_reads_running_and_is_found_by_that_status(send, staff_user):
    execution = new_execution(staff_user)
    ExecutionResultFactory(task=execution.task, status="success")

    shown = send("GET", f"/api/executions/{execution.pk}")
    found = send("GET", "/api/executions?status=running")

    assert shown.json()["status"] == "running"
    assert [item["id"] for item in found.json()["results"]] == [execution.pk]
    assert ExecutionResult.objects.get(pk=execution.pk).status is None
