"""A row deleted while an admin form saves it, before the submission or while the save waits for
the row, is answered as the admin answers a row that is gone: a redirect to the admin's index
with "... doesn't exist. Perhaps it was deleted?", never a 500; the save leaves no audit record
and no admin log entry, and the trail holds the row's creation and its deletion only."""

import threading
import time

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.db import connection, transaction

from audit.models import AuditLog
from brain.db.rows import lock_row
from events.services import event_delete
from events.tests.factories import SystemEventFactory
from scheduling import services
from scheduling.tests.factories import AgentFactory, ProjectFactory, ScheduledTaskFactory

pytestmark = pytest.mark.django_db(transaction=True)  # the deleter has its own connection

NO_INLINE_ROWS = {
    "executions-TOTAL_FORMS": "0",
    "executions-INITIAL_FORMS": "0",
    "executions-MIN_NUM_FORMS": "0",
    "executions-MAX_NUM_FORMS": "1000",
}

# url name, a new row, its change form with one change, the service that deletes it
RESOURCES = {
    "projects": (
        "scheduling/project",
        lambda user: ProjectFactory(user=user),
        lambda project: {"name": "renamed", "description": project.description},
        lambda project: services.project_delete(project=project),
    ),
    "tasks": (
        "scheduling/scheduledtask",
        lambda user: ScheduledTaskFactory(user=user),
        lambda task: {
            "skill_name": task.skill_name,
            "schedule_cron": "0 4 * * *",
            "timezone": task.timezone,
            "params_json": "{}",
            "status": task.status,
            "timeout_seconds": str(task.timeout_seconds),
            **NO_INLINE_ROWS,
        },
        lambda task: services.task_delete(task=task),
    ),
    "agents": (
        "scheduling/agent",
        lambda user: AgentFactory(),
        lambda agent: {
            "name": "renamed",
            "type": agent.type,
            "capabilities_json": "[]",
            "status": agent.status,
        },
        lambda agent: services.agent_delete(agent=agent),
    ),
    "events": (
        "events/systemevent",
        lambda user: SystemEventFactory(),
        None,  # events are read-only in the admin: no change form to save
        lambda event: event_delete(event=event),
    ),
}
CHANGE_FORMS = [name for name, resource in RESOURCES.items() if resource[2] is not None]


@pytest.fixture
def admin_session(client, superuser):
    client.force_login(superuser)
    return client


def _waiting_for(pid):
    """Whether a backend waits for a lock that the connection `pid` holds."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # a fresh pg_stat_activity
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", [pid]
        )
        return cursor.fetchone()[0] > 0


def deleted_while_saved(row, delete, submit):
    """Submits a form (`submit()`) while another transaction holds `row`'s lock, and deletes the
    row with `delete` in that transaction once the submission waits for the lock; returns the
    submission's response."""
    locked, failure = threading.Event(), []

    def hold_and_delete():
        try:
            with transaction.atomic():
                lock_row(type(row).objects.get(pk=row.pk))
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    pid = cursor.fetchone()[0]
                locked.set()
                for _ in range(1000):
                    if _waiting_for(pid):
                        break
                    time.sleep(0.01)
                else:
                    raise AssertionError("the submission never waited for the row")
                delete(type(row).objects.get(pk=row.pk))
        except BaseException as error:  # reported by the test's thread
            failure.append(error)
            locked.set()
        finally:
            connection.close()

    deleter = threading.Thread(target=hold_and_delete)
    deleter.start()
    locked.wait()
    response = submit() if not failure else None
    deleter.join()
    if failure:
        raise failure[0]
    return response


def _answered_as_gone(response, verbose_name, pk):
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        f"{verbose_name} with ID “{pk}” doesn’t exist. Perhaps it was deleted?"  # noqa: RUF001
    ]


def _trail(row):
    return list(
        AuditLog.objects.filter(table_name=row._meta.db_table, record_id=str(row.pk))
        .order_by("id")
        .values_list("operation", flat=True)
    )


def _admin_log(row):
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(row), object_id=str(row.pk)
    )
    return list(entries.values_list("action_flag", flat=True))


@pytest.mark.parametrize("resource", CHANGE_FORMS)
def test_a_change_form_saved_after_its_row_was_deleted_says_it_is_gone(
    resource, admin_session, user
):
    path, create, form, delete = RESOURCES[resource]
    row = create(user)
    data = form(row)
    delete(type(row).objects.get(pk=row.pk))

    response = admin_session.post(f"/admin/{path}/{row.pk}/change/", data)

    _answered_as_gone(response, row._meta.verbose_name, row.pk)
    assert _trail(row) == ["CREATE", "DELETE"]
    assert _admin_log(row) == []


@pytest.mark.parametrize("resource", CHANGE_FORMS)
def test_a_change_form_whose_row_is_deleted_during_the_save_says_it_is_gone(
    resource, admin_session, user
):
    path, create, form, delete = RESOURCES[resource]
    row = create(user)

    response = deleted_while_saved(
        row, delete, lambda: admin_session.post(f"/admin/{path}/{row.pk}/change/", form(row))
    )

    _answered_as_gone(response, row._meta.verbose_name, row.pk)
    assert not type(row).objects.filter(pk=row.pk).exists()
    assert _trail(row) == ["CREATE", "DELETE"]
    assert _admin_log(row) == []


@pytest.mark.parametrize("resource", RESOURCES)
def test_a_delete_confirmed_while_another_deletes_the_row_says_it_is_gone(
    resource, admin_session, user
):
    path, create, _, delete = RESOURCES[resource]
    row = create(user)

    response = deleted_while_saved(
        row, delete, lambda: admin_session.post(f"/admin/{path}/{row.pk}/delete/", {"post": "yes"})
    )

    _answered_as_gone(response, row._meta.verbose_name, row.pk)
    assert _trail(row) == ["CREATE", "DELETE"]
    assert _admin_log(row) == []


@pytest.mark.parametrize("resource", RESOURCES)
def test_delete_selected_skips_a_row_another_request_deletes_meanwhile(
    resource, admin_session, user
):
    path, create, _, delete = RESOURCES[resource]
    row, other = create(user), create(user)
    selected = {"action": "delete_selected", "_selected_action": [row.pk, other.pk], "post": "yes"}

    response = deleted_while_saved(
        row, delete, lambda: admin_session.post(f"/admin/{path}/", selected)
    )

    assert (response.status_code, response["Location"]) == (302, f"/admin/{path}/")
    assert not type(row).objects.filter(pk__in=[row.pk, other.pk]).exists()
    assert _trail(row) == ["CREATE", "DELETE"]
    assert _trail(other) == ["CREATE", "DELETE"]
    assert _admin_log(other) == [DELETION]


@pytest.mark.parametrize("action", ["run_now", "disable", "enable"])
def test_a_task_action_on_a_task_deleted_meanwhile_says_so(action, admin_session, user):
    task = ScheduledTaskFactory(user=user)
    selected = {"action": action, "_selected_action": [task.pk]}

    response = deleted_while_saved(
        task,
        lambda task: services.task_delete(task=task),
        lambda: admin_session.post("/admin/scheduling/scheduledtask/", selected),
    )

    assert (response.status_code, response["Location"]) == (302, "/admin/scheduling/scheduledtask/")
    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        f"Task {task.pk}: it no longer exists."
    ]
    assert _trail(task) == ["CREATE", "DELETE"]
