from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from audit.models import AuditLog
from scheduling.models import ExecutionResult

from .factories import ExecutionResultFactory, ScheduledTaskFactory

pytestmark = pytest.mark.django_db

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def iso(moment):
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def body(execution):
    execution.refresh_from_db()
    return {
        "id": execution.pk,
        "task_id": execution.task_id,
        "scheduled_for": iso(execution.scheduled_for),
        "started_at": iso(execution.started_at),
        "ended_at": iso(execution.ended_at),
        "status": execution.status or "running",
        "output_text": execution.output_text,
        "error_text": execution.error_text,
        "duration_ms": execution.duration_ms,
        "worker": execution.worker,
    }


def test_create_a_started_execution(api_client, user):
    task = ScheduledTaskFactory(user=user)

    response = api_client.post(
        "/api/executions",
        {"task_id": task.pk, "started_at": iso(START), "worker": "w1", "scheduled_for": iso(START)},
    )

    assert response.status_code == 201
    execution = ExecutionResult.objects.get()
    assert (execution.status, execution.ended_at, execution.duration_ms) == (None, None, None)
    assert response.json() == body(execution)


def test_create_a_finished_execution_computes_its_duration(api_client, user):
    task = ScheduledTaskFactory(user=user)

    response = api_client.post(
        "/api/executions",
        {
            "task_id": task.pk,
            "started_at": iso(START),
            "ended_at": iso(START + timedelta(seconds=3)),
            "status": "success",
        },
    )

    assert (response.status_code, response.json()["duration_ms"]) == (201, 3000)


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({"status": "exploded"}, {"status": ['"exploded" is not a valid choice.']}),
        ({"status": ""}, {"status": ['"" is not a valid choice.']}),
        (
            {"duration_ms": -5},
            {"duration_ms": ["Ensure this value is greater than or equal to 0."]},
        ),
        (
            {"ended_at": iso(START - timedelta(seconds=1))},
            {"ended_at": ["ended_at cannot be before started_at."]},
        ),
        ({"output_text": "a\x00b"}, {"output_text": ["Null characters are not allowed."]}),
        ({"task_id": 999999}, {"task_id": ['Invalid pk "999999" - object does not exist.']}),
        ({"task_id": None}, {"task_id": ["This field may not be null."]}),
    ],
)
def test_create_refuses_invalid_input(api_client, user, payload, errors):
    task = ScheduledTaskFactory(user=user)

    response = api_client.post(
        "/api/executions", {"task_id": task.pk, "started_at": iso(START), **payload}
    )

    assert (response.status_code, response.json()) == (400, errors)
    assert not ExecutionResult.objects.exists()


def test_create_refuses_a_second_run_of_one_slot(api_client, user):
    existing = ExecutionResultFactory(task=ScheduledTaskFactory(user=user), scheduled_for=START)

    response = api_client.post(
        "/api/executions", {"task_id": existing.task_id, "scheduled_for": iso(START)}
    )

    assert (response.status_code, response.json()) == (
        400,
        {"scheduled_for": ["This task already has an execution for that slot."]},
    )
    assert ExecutionResult.objects.count() == 1


def test_create_for_another_users_task_is_refused_as_if_it_did_not_exist(api_client, other_user):
    task = ScheduledTaskFactory(user=other_user)

    response = api_client.post("/api/executions", {"task_id": task.pk})

    assert (response.status_code, response.json()) == (
        400,
        {"task_id": [f'Invalid pk "{task.pk}" - object does not exist.']},
    )


def test_list_shows_only_executions_of_the_users_tasks_latest_first(api_client, user, other_user):
    task = ScheduledTaskFactory(user=user)
    older = ExecutionResultFactory(task=task, started_at=START)
    newer = ExecutionResultFactory(task=task, started_at=START + timedelta(hours=1))
    ExecutionResultFactory(task=ScheduledTaskFactory(user=other_user))

    response = api_client.get("/api/executions")

    assert response.json() == {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [body(newer), body(older)],
    }


def test_list_filters_by_task_status_and_time(api_client, user):
    task = ScheduledTaskFactory(user=user)
    wanted = ExecutionResultFactory(task=task, status="failed", started_at=START)
    ExecutionResultFactory(task=task, status="success", started_at=START)
    ExecutionResultFactory(task=task, status="failed", started_at=START - timedelta(days=2))
    ExecutionResultFactory(task=ScheduledTaskFactory(user=user), status="failed", started_at=START)

    response = api_client.get(
        "/api/executions",
        {"task_id": task.pk, "status": "failed", "started_after": iso(START - timedelta(hours=1))},
    )

    assert [row["id"] for row in response.json()["results"]] == [wanted.pk]


def test_list_costs_a_constant_number_of_queries(api_client, user, django_assert_num_queries):
    for _ in range(5):
        ExecutionResultFactory(task=ScheduledTaskFactory(user=user))
    api_client.get("/api/executions")

    with django_assert_num_queries(3):  # the read's statement timeout, the count, the page
        api_client.get("/api/executions")


def test_another_users_execution_is_404(api_client, other_user):
    execution = ExecutionResultFactory(task=ScheduledTaskFactory(user=other_user), status=None)
    url = f"/api/executions/{execution.pk}"

    statuses = [
        api_client.get(url).status_code,
        api_client.patch(url, {"output_text": "x"}).status_code,
        api_client.post(f"{url}/complete", {"status": "success"}).status_code,
        api_client.delete(url).status_code,
    ]

    assert statuses == [404, 404, 404, 404]
    execution.refresh_from_db()
    assert (execution.status, execution.output_text) == (None, "")


def test_the_api_never_shows_the_traceback(api_client, staff_client, user):
    execution = ExecutionResultFactory(
        task=ScheduledTaskFactory(user=user),
        status="failed",
        error_text="RuntimeError: boom",
        traceback_text='Traceback (most recent call last):\n  File "/srv/skill.py"\n',
    )
    url = f"/api/executions/{execution.pk}"

    owners = api_client.get(url)
    staffs = staff_client.get(url)
    listed = api_client.get("/api/executions").json()["results"]
    written = api_client.patch(url, {"traceback_text": "forged"})

    assert owners.json() == staffs.json() == listed[0] == body(execution)
    assert written.status_code == 400
    assert written.json() == {"traceback_text": ["Unknown field: this endpoint does not take it."]}
    execution.refresh_from_db()
    assert execution.traceback_text.startswith("Traceback (most recent call last):")


def test_patch_refuses_an_end_before_the_start(api_client, user):
    execution = ExecutionResultFactory(task=ScheduledTaskFactory(user=user), started_at=START)

    response = api_client.patch(
        f"/api/executions/{execution.pk}", {"ended_at": iso(START - timedelta(minutes=1))}
    )

    assert (response.status_code, response.json()) == (
        400,
        {"ended_at": ["ended_at cannot be before started_at."]},
    )


def test_patch_cannot_clear_a_final_status(api_client, user):
    execution = ExecutionResultFactory(task=ScheduledTaskFactory(user=user), status="failed")

    response = api_client.patch(f"/api/executions/{execution.pk}", {"status": None})

    assert (response.status_code, response.json()) == (
        400,
        {"status": ["This execution is complete (failed): its status is final."]},
    )
    execution.refresh_from_db()
    assert execution.status == "failed"


def test_delete(api_client, user):
    execution = ExecutionResultFactory(task=ScheduledTaskFactory(user=user))

    assert api_client.delete(f"/api/executions/{execution.pk}").status_code == 204
    assert not ExecutionResult.objects.exists()


def test_complete_sets_the_final_state(api_client, user):
    execution = ExecutionResultFactory(
        task=ScheduledTaskFactory(user=user), status=None, ended_at=None, duration_ms=None
    )

    response = api_client.post(
        f"/api/executions/{execution.pk}/complete",
        {
            "status": "timeout",
            "output_text": "halfway",
            "error_text": "timed out after 300 s",
            "ended_at": iso(START + timedelta(minutes=5)),
        },
    )

    assert response.status_code == 200
    assert response.json() == body(execution)
    assert (execution.status, execution.duration_ms, execution.error_text) == (
        "timeout",
        300000,
        "timed out after 300 s",
    )


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({}, {"status": ["This field is required."]}),
        ({"status": "exploded"}, {"status": ['"exploded" is not a valid choice.']}),
        (
            {"status": "success", "ended_at": iso(START - timedelta(seconds=1))},
            {"ended_at": ["ended_at cannot be before started_at."]},
        ),
        (
            {"status": "success", "error_text": "\x00"},
            {"error_text": ["Null characters are not allowed."]},
        ),
    ],
)
def test_complete_refuses_invalid_input(api_client, user, payload, errors):
    execution = ExecutionResultFactory(
        task=ScheduledTaskFactory(user=user), status=None, ended_at=None, duration_ms=None
    )

    response = api_client.post(f"/api/executions/{execution.pk}/complete", payload)

    assert (response.status_code, response.json()) == (400, errors)
    execution.refresh_from_db()
    assert execution.status is None


def test_complete_twice_is_a_conflict(api_client, user):
    execution = ExecutionResultFactory(task=ScheduledTaskFactory(user=user), status="success")

    response = api_client.post(f"/api/executions/{execution.pk}/complete", {"status": "failed"})

    assert (response.status_code, response.json()) == (
        409,
        {"detail": "This execution is already complete (success)."},
    )
    execution.refresh_from_db()
    assert execution.status == "success"


def test_stats_over_the_users_executions(api_client, user, other_user):
    task = ScheduledTaskFactory(user=user)
    for status, duration in [("success", 100), ("success", 200), ("failed", 300), ("timeout", 400)]:
        ExecutionResultFactory(task=task, status=status, duration_ms=duration)
    ExecutionResultFactory(task=task, status=None, ended_at=None, duration_ms=None)
    ExecutionResultFactory(task=ScheduledTaskFactory(user=other_user), duration_ms=99999)

    response = api_client.get("/api/executions/stats")

    assert response.status_code == 200
    assert response.json() == {
        "total": 5,
        "success": 2,
        "failed": 1,
        "timeout": 1,
        "cancelled": 0,
        "running": 1,
        "success_rate": 0.5,
        "avg_duration_ms": 250.0,
        "p95_duration_ms": 385.0,
    }


def test_stats_filter_by_task_and_time(staff_client, user):
    task, other_task = ScheduledTaskFactory(user=user), ScheduledTaskFactory(user=user)
    ExecutionResultFactory(task=task, started_at=START, duration_ms=10)
    ExecutionResultFactory(task=task, started_at=START - timedelta(days=1), duration_ms=20)
    ExecutionResultFactory(task=other_task, started_at=START, duration_ms=30)

    response = staff_client.get(
        "/api/executions/stats",
        {"task_id": task.pk, "started_after": iso(START), "started_before": iso(START)},
    )

    assert response.json() == {
        "total": 1,
        "success": 1,
        "failed": 0,
        "timeout": 0,
        "cancelled": 0,
        "running": 0,
        "success_rate": 1.0,
        "avg_duration_ms": 10.0,
        "p95_duration_ms": 10.0,
    }


def test_stats_of_another_users_task_is_404(api_client, other_user):
    task = ScheduledTaskFactory(user=other_user)
    ExecutionResultFactory(task=task)

    response = api_client.get("/api/executions/stats", {"task_id": task.pk})

    assert (response.status_code, response.json()) == (
        404,
        {"detail": "Not found."},
    )


def test_stats_of_nothing(api_client):
    response = api_client.get("/api/executions/stats")

    assert response.json() == {
        "total": 0,
        "success": 0,
        "failed": 0,
        "timeout": 0,
        "cancelled": 0,
        "running": 0,
        "success_rate": None,
        "avg_duration_ms": None,
        "p95_duration_ms": None,
    }


def test_stats_refuse_invalid_parameters(api_client):
    response = api_client.get(
        "/api/executions/stats",
        {"task_id": "x", "started_after": "soon", "started_before": "2026-01-01T00:00:00\x00Z"},
    )

    # Worded as the list's filters word them: /api/executions?started_after=soon
    assert (response.status_code, response.json()) == (
        400,
        {
            "task_id": ["A valid integer is required."],
            "started_after": ["Enter a valid date/time."],
            "started_before": ["Enter a valid date/time."],
        },
    )


def test_stats_is_one_aggregate_query(api_client, user, django_assert_num_queries):
    ExecutionResultFactory(task=ScheduledTaskFactory(user=user))
    api_client.get("/api/executions/stats")

    with django_assert_num_queries(2):  # the read's statement timeout, the aggregate
        api_client.get("/api/executions/stats")


def test_an_error_of_no_one_field_is_named_as_drf_names_it(api_client, user):
    # started_at defaults to now in the service: the model's check constraint speaks.
    task = ScheduledTaskFactory(user=user)

    response = api_client.post(
        "/api/executions",
        {"task_id": task.pk, "status": "success", "ended_at": "2000-01-01T00:00:00Z"},
    )

    assert (response.status_code, response.json()) == (
        400,
        {"non_field_errors": ["ended_at cannot be before started_at."]},
    )
    assert not ExecutionResult.objects.exists()


def test_a_final_status_without_ended_at_ends_the_run_now(api_client, user):
    task = ScheduledTaskFactory(user=user)
    running = ExecutionResultFactory(task=task, status=None, ended_at=None, duration_ms=None)
    before = timezone.now()

    created = api_client.post(
        "/api/executions", {"task_id": task.pk, "started_at": iso(START), "status": "success"}
    )
    patched = api_client.patch(f"/api/executions/{running.pk}", {"status": "cancelled"})

    assert (created.status_code, patched.status_code) == (201, 200)
    for body in (created.json(), patched.json()):
        execution = ExecutionResult.objects.get(pk=body["id"])
        assert execution.ended_at >= before
        assert execution.duration_ms == (
            (execution.ended_at - execution.started_at) // timedelta(milliseconds=1)
        )
        assert (body["ended_at"], body["duration_ms"]) == (
            iso(execution.ended_at),
            execution.duration_ms,
        )


def test_ended_at_without_a_final_status_is_refused(api_client, user):
    task = ScheduledTaskFactory(user=user)
    running = ExecutionResultFactory(task=task, status=None, ended_at=None, duration_ms=None)
    audit_rows = AuditLog.objects.count()

    created = api_client.post(
        "/api/executions", {"task_id": task.pk, "ended_at": "2030-01-01T00:00:00Z"}
    )
    updated = api_client.patch(
        f"/api/executions/{running.pk}", {"ended_at": "2030-01-01T00:00:00Z"}
    )

    message = {"ended_at": ["An execution ends with a final status: give status too."]}
    assert (created.status_code, created.json()) == (400, message)
    assert (updated.status_code, updated.json()) == (400, message)
    assert list(ExecutionResult.objects.values_list("pk", "ended_at")) == [(running.pk, None)]
    assert AuditLog.objects.count() == audit_rows


@pytest.mark.parametrize("status", ["success", "cancelled", "timeout"])
def test_a_final_status_is_final(api_client, user, status):
    execution = ExecutionResultFactory(task=ScheduledTaskFactory(user=user), status="failed")
    audit_rows = AuditLog.objects.count()

    response = api_client.patch(f"/api/executions/{execution.pk}", {"status": status})

    assert (response.status_code, response.json()) == (
        400,
        {"status": ["This execution is complete (failed): its status is final."]},
    )
    execution.refresh_from_db()
    assert execution.status == "failed"
    assert AuditLog.objects.count() == audit_rows


def test_the_same_final_status_may_be_sent_again(api_client, user):
    execution = ExecutionResultFactory(task=ScheduledTaskFactory(user=user), status="failed")

    response = api_client.patch(
        f"/api/executions/{execution.pk}", {"status": "failed", "worker": "w"}
    )

    assert (response.status_code, response.json()["worker"]) == (200, "w")


def test_running_executions_are_listed_with_status_running(api_client, user):
    task = ScheduledTaskFactory(user=user)
    running = ExecutionResultFactory(task=task, status=None, ended_at=None, duration_ms=None)
    ExecutionResultFactory(task=task, status="success")

    listed = api_client.get("/api/executions", {"status": "running"}).json()
    stats = api_client.get("/api/executions/stats").json()

    assert [row["id"] for row in listed["results"]] == [running.pk]
    assert (listed["count"], stats["running"]) == (1, 1)
