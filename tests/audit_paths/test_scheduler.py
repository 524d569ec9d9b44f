"""run_scheduler records the claim, the run and the release as `system:scheduler`, and what a
skill writes in its own thread as the task's owner, through the scheduler (user agent
`system:scheduler`, request id `execution:<id>`); with nothing due it records nothing. The
lease (`claimed_by`, `lease_expires_at`) is never recorded: a task's records are its status and
schedule changes."""

from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from audit.models import AuditLog
from brain.context import audit_actor
from events.models import SystemEvent
from events.tests.factories import SystemEventFactory
from scheduling import services
from scheduling.models import ExecutionResult, ScheduledTask
from scheduling.tests.factories import ScheduledTaskFactory
from scheduling.tests.scheduler_support import maintenance_permission
from tests.audit_paths.support import (
    audit_mark,
    client_meta,
    encoded,
    from_request,
    from_system,
    origins_after,
    records_after,
    stored,
)

pytestmark = pytest.mark.django_db


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
                "traceback_text": "",
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
                "next_run_at": {"old": before["next_run_at"], "new": after["next_run_at"]},
                "updated_at": {"old": encoded(claimed_at), "new": after["updated_at"]},
            },
        ),
    ]
    assert origins_after(mark) == [from_system("system:scheduler")] * 4


def test_a_task_disabled_through_the_api_while_it_runs_has_one_record_per_status_change(
    api_client, user
):
    now = timezone.now()
    task = ScheduledTaskFactory(
        user=user, skill_name="demo.echo", schedule_cron="0 3 1 1 *", next_run_at=now
    )
    before = stored(task)
    mark = audit_mark()

    with audit_actor("system:scheduler"):
        [claim] = services.task_claim_due(
            worker="paths-worker", limit=10, now=now, lease_margin_seconds=30
        )
    claimed = stored(task)
    response = api_client.patch(
        f"/api/tasks/{task.pk}",
        {"status": "disabled"},
        format="json",
        **client_meta("req-task-off"),
    )
    disabled = stored(task)
    with audit_actor("system:scheduler"):
        services.execution_finish(
            worker="paths-worker",
            outcomes=[
                services.Outcome(
                    claim=claim, status="success", output_text="", error_text="", duration_ms=5
                )
            ],
            now=now + timedelta(seconds=1),
        )

    assert response.status_code == 200
    released = ScheduledTask.objects.get(pk=task.pk)
    assert (released.status, released.claimed_by, released.lease_expires_at) == (
        "disabled",
        "",
        None,
    )
    task_records = [
        (record[0], record[3]) for record in records_after(mark) if record[1] == "scheduled_tasks"
    ]
    # The release changes only the lease (and updated_at): no record.
    assert task_records == [
        (
            "UPDATE",
            {
                "status": {"old": "pending", "new": "running"},
                "updated_at": {"old": before["updated_at"], "new": claimed["updated_at"]},
            },
        ),
        (
            "UPDATE",
            {
                "status": {"old": "running", "new": "disabled"},
                "updated_at": {"old": claimed["updated_at"], "new": disabled["updated_at"]},
            },
        ),
    ]
    assert [
        origin
        for record, origin in zip(records_after(mark), origins_after(mark), strict=True)
        if record[1] == "scheduled_tasks"
    ] == [from_system("system:scheduler"), from_request(user, response)]
    assert [record[:2] for record in records_after(mark)] == [
        ("CREATE", "execution_results"),
        ("UPDATE", "scheduled_tasks"),
        ("UPDATE", "scheduled_tasks"),
        ("UPDATE", "execution_results"),
    ]


def test_run_scheduler_with_nothing_due_records_nothing(user, signal_handlers):
    ScheduledTaskFactory(user=user, next_run_at=timezone.now() + timedelta(hours=1))
    mark = audit_mark()

    call_command("run_scheduler", once=True, worker_id="paths-worker", verbosity=0)

    assert records_after(mark) == []


@pytest.mark.django_db(transaction=True)  # the skills run in their own threads and connections
def test_run_scheduler_records_what_a_skill_writes_as_its_owner_through_the_scheduler(
    user, signal_handlers, django_capture_on_commit_callbacks
):
    user.user_permissions.add(maintenance_permission())
    old_event = SystemEventFactory(timestamp=timezone.now() - timedelta(days=40))
    old_values = stored(old_event)
    due = timezone.now() - timedelta(minutes=1)
    health = ScheduledTaskFactory(user=user, skill_name="system.health_check", next_run_at=due)
    purge = ScheduledTaskFactory(
        user=user,
        skill_name="events.purge",
        params_json={"older_than_days": 30},
        next_run_at=due,
    )
    mark = audit_mark()

    call_command("run_scheduler", once=True, worker_id="paths-worker", verbosity=0)

    health_event = SystemEvent.objects.get()
    runs = {execution.task_id: execution.pk for execution in ExecutionResult.objects.all()}
    records = AuditLog.objects.filter(id__gt=mark)
    skill_records = sorted(
        (
            (log.operation, log.table_name, log.record_id, log.changed_fields),
            (log.user_id, log.ip_address, log.user_agent, log.request_id),
        )
        for log in records.filter(table_name="system_events")
    )
    assert skill_records == [
        (
            ("CREATE", "system_events", str(health_event.pk), stored(health_event)),
            (str(user.pk), None, "system:scheduler", f"execution:{runs[health.pk]}"),
        ),
        (
            ("DELETE", "system_events", str(old_event.pk), old_values),
            (str(user.pk), None, "system:scheduler", f"execution:{runs[purge.pk]}"),
        ),
    ]
    # The scheduler's own writes (claims, executions, releases) stay the scheduler's.
    assert {
        (log.user_id, log.ip_address, log.user_agent, log.request_id)
        for log in records.exclude(table_name="system_events")
    } == {from_system("system:scheduler")}
    # Per task: the execution's create and completion, the claim and the release.
    assert Counter(record[:2] for record in records_after(mark)) == {
        ("CREATE", "system_events"): 1,
        ("DELETE", "system_events"): 1,
        ("CREATE", "execution_results"): 2,
        ("UPDATE", "execution_results"): 2,
        ("UPDATE", "scheduled_tasks"): 4,
    }
