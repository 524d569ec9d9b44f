"""One user cannot starve the scheduler for others: timeouts are bounded, a user's tasks and
running tasks are capped, and claims take the owners in turns."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connections, transaction
from django.utils import timezone

from audit.models import AuditLog
from scheduling import services
from scheduling.models import ExecutionResult, ExecutionStatus, ScheduledTask, TaskStatus
from scheduling.scheduler import Scheduler
from scheduling.selectors import task_next_due_at
from scheduling.services import Outcome, execution_finish, task_claim_due

from .factories import ScheduledTaskFactory, UserFactory
from .scheduler_support import make_task, running_clock, scheduler_in_thread, wait_for
from .test_admin import task_form
from .test_concurrency import run_in_threads
from .test_scheduler import assert_failed_before_running

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 12, 2, 30, tzinfo=UTC)


def claim(worker="w", limit=10, now=NOW):
    return task_claim_due(worker=worker, limit=limit, now=now, lease_margin_seconds=30)


def due_tasks(user, count, *, oldest=NOW - timedelta(minutes=10), **fields):
    """`count` tasks of `user` due since `oldest`, a second apart, oldest first."""
    return [
        make_task(user, next_run_at=oldest + timedelta(seconds=number), **fields)
        for number in range(count)
    ]


def success(claimed):
    return Outcome(
        claim=claimed,
        status=ExecutionStatus.SUCCESS,
        output_text="",
        error_text="",
        duration_ms=5,
    )


# --- The longest timeout


def test_a_timeout_above_the_bound_is_a_400_naming_the_field_and_the_bound(
    api_client, skill_name, settings
):
    settings.TASK_MAX_TIMEOUT_SECONDS = 60
    valid = {"skill_name": skill_name, "schedule_cron": "* * * * *"}

    refused = api_client.post("/api/tasks", {**valid, "timeout_seconds": 61})
    accepted = api_client.post("/api/tasks", {**valid, "timeout_seconds": 60})

    assert (refused.status_code, refused.json()) == (
        400,
        {"timeout_seconds": ["Ensure this value is less than or equal to 60."]},
    )
    assert accepted.status_code == 201
    assert list(ScheduledTask.objects.values_list("timeout_seconds", flat=True)) == [60]


def test_a_patch_past_the_bound_is_refused_and_changes_nothing(api_client, user):
    task = ScheduledTaskFactory(user=user, timeout_seconds=300)
    records = AuditLog.objects.count()

    response = api_client.patch(f"/api/tasks/{task.pk}", {"timeout_seconds": 2**31 - 1})

    assert (response.status_code, response.json()) == (
        400,
        {"timeout_seconds": ["Ensure this value is less than or equal to 3600."]},
    )
    task.refresh_from_db()
    assert task.timeout_seconds == 300
    assert AuditLog.objects.count() == records


def test_the_schema_declares_the_bound(api_client, settings):
    settings.TASK_MAX_TIMEOUT_SECONDS = 900

    schema = api_client.get("/api/schema?format=json").json()

    timeout = schema["components"]["schemas"]["ScheduledTask"]["properties"]["timeout_seconds"]
    assert (timeout["minimum"], timeout["maximum"]) == (1, 900)


def test_the_admin_refuses_a_timeout_above_the_bound_on_its_field(admin_client):
    owner = UserFactory()
    unsaved = ScheduledTask(skill_name="demo.echo", schedule_cron="0 * * * *", user=owner)

    response = admin_client.post(
        "/admin/scheduling/scheduledtask/add/", task_form(unsaved, timeout_seconds=3601)
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "timeout_seconds": ["Ensure this value is less than or equal to 3600."]
    }
    assert not ScheduledTask.objects.exists()


def test_a_task_stored_with_a_longer_timeout_runs_with_the_bound(user):
    task = make_task(user, next_run_at=NOW)
    ScheduledTask.objects.filter(pk=task.pk).update(timeout_seconds=2**31 - 1)

    [claimed] = claim()

    task.refresh_from_db()
    assert claimed.timeout_seconds == 3600
    assert task.lease_expires_at == NOW + timedelta(seconds=3600 + 30)


def test_demo_sleep_refuses_to_sleep_longer_than_the_longest_timeout(user):
    task = make_task(
        user, skill_name="demo.sleep", params_json={"seconds": 1_000_000}, next_run_at=NOW
    )

    Scheduler(worker_id="w", poll_interval=0.05, clock=running_clock(NOW)).run(once=True)

    execution = ExecutionResult.objects.get(task=task)
    assert execution.status == ExecutionStatus.FAILED
    assert (
        "seconds must be at most 3600 (TASK_MAX_TIMEOUT_SECONDS); got 1000000."
        in execution.error_text
    )
    assert execution.duration_ms < 1000


# --- How many tasks a user may have


def test_a_user_at_the_task_cap_is_refused_with_a_400_naming_it(
    api_client, user, other_client, skill_name, settings
):
    settings.TASKS_MAX_PER_USER = 2
    ScheduledTaskFactory.create_batch(2, user=user)
    body = {"skill_name": skill_name, "schedule_cron": "* * * * *"}

    refused = api_client.post("/api/tasks", body)
    others = other_client.post("/api/tasks", body)

    assert (refused.status_code, refused.json()) == (
        400,
        {
            "non_field_errors": [
                "The owner already has 2 scheduled tasks; one user may have at most 2 "
                "(TASKS_MAX_PER_USER)."
            ]
        },
    )
    assert others.status_code == 201
    assert ScheduledTask.objects.filter(user=user).count() == 2
    assert not AuditLog.objects.filter(user_id=str(user.pk)).exists()


def test_staff_are_capped_too_and_a_deleted_task_makes_room(staff_client, staff_user, settings):
    settings.TASKS_MAX_PER_USER = 1
    [task] = ScheduledTaskFactory.create_batch(1, user=staff_user)
    body = {"skill_name": "demo.echo", "schedule_cron": "* * * * *"}

    refused = staff_client.post("/api/tasks", body)
    staff_client.delete(f"/api/tasks/{task.pk}")
    accepted = staff_client.post("/api/tasks", body)

    assert (refused.status_code, accepted.status_code) == (400, 201)
    assert ScheduledTask.objects.filter(user=staff_user).count() == 1


def test_the_admin_refuses_a_task_for_an_owner_at_the_cap(admin_client, settings):
    settings.TASKS_MAX_PER_USER = 1
    owner = UserFactory()
    ScheduledTaskFactory(user=owner)
    unsaved = ScheduledTask(skill_name="demo.echo", schedule_cron="0 * * * *", user=owner)

    response = admin_client.post("/admin/scheduling/scheduledtask/add/", task_form(unsaved))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "__all__": [
            "The owner already has 1 scheduled tasks; one user may have at most 1 "
            "(TASKS_MAX_PER_USER)."
        ]
    }
    assert ScheduledTask.objects.filter(user=owner).count() == 1


def test_the_cap_leaves_existing_tasks_editable(api_client, user, settings):
    [task] = ScheduledTaskFactory.create_batch(1, user=user)
    settings.TASKS_MAX_PER_USER = 1

    response = api_client.patch(f"/api/tasks/{task.pk}", {"timeout_seconds": 60})

    assert response.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_never_pass_the_cap(settings):
    settings.TASKS_MAX_PER_USER = 5
    user = UserFactory()
    refusals = []

    def create_tasks():
        for _ in range(5):
            try:
                services.task_create(user=user, skill_name="demo.echo", schedule_cron="* * * * *")
            except ValidationError as error:
                refusals.append(error.messages)

    run_in_threads(create_tasks, create_tasks, create_tasks)

    assert ScheduledTask.objects.filter(user=user).count() == 5
    assert len(refusals) == 10


# --- Claims: owners in turns, and a cap on each owner's running tasks


def test_a_claim_takes_the_owners_in_turns_oldest_first(user, other_user):
    hog = due_tasks(user, 10)
    late = make_task(other_user, next_run_at=NOW - timedelta(seconds=1))

    claimed = claim(limit=3)

    assert [claimed_run.task_id for claimed_run in claimed] == [hog[0].pk, late.pk, hog[1].pk]


def test_an_owner_with_the_most_running_tasks_gets_no_more_and_theirs_wait_pending(user, settings):
    settings.TASKS_MAX_RUNNING_PER_USER = 2
    tasks = due_tasks(user, 5)

    first = claim(worker="w1")
    second = claim(worker="w2")  # the cap is the user's, across workers

    assert [claimed_run.task_id for claimed_run in first] == [tasks[0].pk, tasks[1].pk]
    assert second == []
    waiting = ScheduledTask.objects.filter(pk__in=[task.pk for task in tasks[2:]])
    assert {(task.status, task.claimed_by) for task in waiting} == {(TaskStatus.PENDING, "")}
    assert ExecutionResult.objects.count() == 2


def test_a_run_that_ends_makes_room_for_the_owners_next_task(user, settings):
    settings.TASKS_MAX_RUNNING_PER_USER = 2
    tasks = due_tasks(user, 5)
    first = claim(worker="w1")

    execution_finish(worker="w1", outcomes=[success(first[0])], now=NOW)
    after = claim(worker="w2")

    assert [claimed_run.task_id for claimed_run in after] == [tasks[2].pk]


def test_a_task_disabled_while_it_runs_still_counts_as_running(user, settings):
    settings.TASKS_MAX_RUNNING_PER_USER = 1
    running, waiting = due_tasks(user, 2)
    claim()
    services.task_disable(task=running)

    assert claim() == []
    waiting.refresh_from_db()
    assert waiting.status == TaskStatus.PENDING


def test_the_next_due_time_leaves_out_owners_at_their_cap(user, other_user, settings):
    settings.TASKS_MAX_RUNNING_PER_USER = 1
    due_tasks(user, 3)
    claim()
    later = make_task(other_user, next_run_at=NOW + timedelta(minutes=5))

    assert task_next_due_at() == later.next_run_at


@pytest.mark.django_db(transaction=True)
def test_a_claim_beside_another_uncommitted_claim_keeps_to_the_cap(settings):
    settings.TASKS_MAX_RUNNING_PER_USER = 3
    hog, other = UserFactory(), UserFactory()
    tasks = due_tasks(hog, 6)
    holding, release = threading.Event(), threading.Event()
    first = []

    def claim_and_hold():
        try:
            with transaction.atomic():
                first.extend(claim(worker="w1", limit=2))
                holding.set()
                release.wait(timeout=10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=claim_and_hold)
    thread.start()
    try:
        assert holding.wait(timeout=10)
        late = make_task(other, next_run_at=NOW)
        # The hog's first two tasks are locked, still pending to this claim: they take two of
        # the hog's three turns.
        second = claim(worker="w2")
    finally:
        release.set()
        thread.join()

    assert [claimed_run.task_id for claimed_run in first] == [tasks[0].pk, tasks[1].pk]
    assert [claimed_run.task_id for claimed_run in second] == [late.pk, tasks[2].pk]
    assert ScheduledTask.objects.filter(user=hog, lease_expires_at__isnull=False).count() == 3


# --- The scheduler


@pytest.mark.django_db(transaction=True)  # the scheduler thread must see the committed tasks
def test_one_users_long_tasks_never_take_the_slots_of_anothers_due_task():
    hog, other = UserFactory(), UserFactory()
    start = timezone.now()
    # What a user could do to a worker of ten slots: ten long runs, each within the bound.
    long_runs = due_tasks(
        hog,
        10,
        oldest=start - timedelta(seconds=10),
        skill_name="demo.sleep",
        params_json={"seconds": 3},
        timeout_seconds=3600,
    )
    due_later = make_task(other, next_run_at=start + timedelta(seconds=0.5))
    scheduler = Scheduler(worker_id="w", poll_interval=0.05, batch_size=10, grace_period=0)

    try:
        with scheduler_in_thread(scheduler) as thread:
            wait_for(
                lambda: ExecutionResult.objects.filter(
                    task=due_later, status__isnull=False
                ).exists(),
                timeout=10,
                message="the other user's run",
            )
    finally:
        # The abandoned sleeps must not outlive the test.
        for sleeping in threading.enumerate():
            if sleeping.name.startswith("skill-demo.sleep-"):
                sleeping.join()

    assert not thread.is_alive()
    other_run = ExecutionResult.objects.get(task=due_later)
    hog_runs = list(ExecutionResult.objects.filter(task__user=hog))
    # Five of the hog's runs held five slots until the scheduler stopped (cancelled then), the
    # other five of its due tasks waited, pending, without a run...
    assert len(hog_runs) == 5
    assert {run.status for run in hog_runs} == {ExecutionStatus.CANCELLED}
    waiting = ScheduledTask.objects.filter(pk__in=[task.pk for task in long_runs]).exclude(
        pk__in=[run.task_id for run in hog_runs]
    )
    assert [task.status for task in waiting] == [TaskStatus.PENDING] * 5
    # ... and the other user's task ran at its slot, while the long runs held theirs.
    assert other_run.status == ExecutionStatus.SUCCESS
    assert other_run.scheduled_for == due_later.next_run_at
    assert all(run.started_at <= other_run.started_at for run in hog_runs)
    assert all(other_run.ended_at < run.ended_at for run in hog_runs)


@pytest.mark.parametrize(("batch_size", "warned"), [(5, True), (6, False)])
def test_a_worker_a_single_user_could_fill_says_so_when_it_starts(caplog, batch_size, warned):
    Scheduler(worker_id="w", batch_size=batch_size, clock=running_clock(NOW)).run(once=True)

    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert warnings == (
        [
            "one user's runs may take every slot of this worker: its batch size is not above "
            "TASKS_MAX_RUNNING_PER_USER"
        ]
        if warned
        else []
    )


def test_a_task_whose_next_run_overflows_fails_alone_and_the_others_run(api_client, user):
    created = api_client.post(
        "/api/tasks",
        {
            "skill_name": "demo.echo",
            "schedule_cron": "*/5 * * * *",
            "timezone": "America/New_York",
            "next_run_at": "0001-01-01T00:00:00Z",
        },
    )
    broken = ScheduledTask.objects.get(pk=created.json()["id"])
    healthy = make_task(user, next_run_at=NOW)

    Scheduler(worker_id="w", poll_interval=0.05, clock=running_clock(NOW)).run(once=True)

    broken.refresh_from_db()
    assert (broken.status, broken.claimed_by) == (TaskStatus.FAILED, "")
    assert_failed_before_running(broken, worker="w")
    assert "OverflowError" in ExecutionResult.objects.get(task=broken).error_text
    assert ExecutionResult.objects.get(task=healthy).status == ExecutionStatus.SUCCESS
