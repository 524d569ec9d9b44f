"""A task runs with its owner's rights, probed over HTTP as an attacker would: two ordinary users
and a staff member against a live server, and the scheduler running what they queued."""

from datetime import timedelta

import pytest
import requests
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from audit.models import AuditLog
from events.models import SystemEvent
from scheduling.models import ExecutionResult
from scheduling.scheduler import Scheduler

pytestmark = pytest.mark.django_db(transaction=True)  # a live server and the skills' threads

PERMISSION = "scheduling.run_maintenance_skills"
OPEN_SKILLS = ["demo.echo", "demo.fail", "demo.sleep", "system.health_check"]


def refusal(username, skill_name):
    return f"{username} may not use the skill {skill_name}: it needs the permission {PERMISSION}."


def maintenance_permission():
    return Permission.objects.get(
        content_type__app_label="scheduling", codename="run_maintenance_skills"
    )


class Caller:
    """One user of the API over HTTP, with the token POST /api/auth/token gave them."""

    def __init__(self, base, username, password):
        self.base = base
        answer = requests.post(
            f"{base}/api/auth/token", json={"username": username, "password": password}, timeout=10
        )
        assert answer.status_code == 200, answer.text
        self.headers = {"Authorization": f"Token {answer.json()['token']}"}

    def __call__(self, method, path, body=None):
        return requests.request(
            method, f"{self.base}{path}", json=body, headers=self.headers, timeout=10
        )


@pytest.fixture
def people(live_server, django_user_model):
    """alice and bob (ordinary users) and staff (is_staff, no permission), each with a token."""
    for username, is_staff in (("alice", False), ("bob", False), ("staff", True)):
        django_user_model.objects.create_user(
            username=username, password=f"{username}-password-1", is_staff=is_staff
        )
    return {
        username: Caller(live_server.url, username, f"{username}-password-1")
        for username in ("alice", "bob", "staff")
    }


@pytest.fixture
def old_rows():
    """Events of several sources and an audit record, all older than any purge here keeps."""
    past = timezone.now() - timedelta(days=30)
    events = [
        SystemEvent.objects.create(
            event_type="deploy", severity="info", message=f"old {n}", source=f"s{n}", timestamp=past
        )
        for n in range(3)
    ]
    record = AuditLog.objects.create(
        timestamp=past,
        operation="CREATE",
        table_name="system_events",
        record_id="0",
        changed_fields={},
    )
    return events, record


def run_scheduler():
    Scheduler(worker_id="live-worker", poll_interval=0.05).run(once=True)


def task_body(skill_name, **fields):
    return {"skill_name": skill_name, "schedule_cron": "0 3 * * *", **fields}


def test_ordinary_users_cannot_schedule_run_or_borrow_maintenance_skills(people, old_rows):
    alice, bob, staff = people["alice"], people["bob"], people["staff"]
    events, record = old_rows

    # What alice may not do directly, she may not do through a task either.
    assert alice("DELETE", f"/api/events/{events[0].pk}").status_code == 403
    assert alice("GET", "/api/audit").status_code == 403
    skills = alice("GET", "/api/skills").json()
    assert [skill["name"] for skill in skills["results"]] == OPEN_SKILLS
    created = {
        name: alice("POST", "/api/tasks", task_body(name))
        for name in ("events.purge", "audit.purge")
    }
    echo = alice("POST", "/api/tasks", task_body("demo.echo")).json()
    changed = alice("PATCH", f"/api/tasks/{echo['id']}", {"skill_name": "events.purge"})
    replaced = alice("PUT", f"/api/tasks/{echo['id']}", task_body("audit.purge"))
    # Another user cannot reach alice's task; staff may, but with alice's rights, not theirs.
    borrowed = [
        bob("POST", f"/api/tasks/{echo['id']}/run").status_code,
        bob("PATCH", f"/api/tasks/{echo['id']}", {"skill_name": "events.purge"}).status_code,
    ]
    staff_changed = staff("PATCH", f"/api/tasks/{echo['id']}", {"skill_name": "events.purge"})
    staff_created = staff("POST", "/api/tasks", task_body("events.purge"))

    for name, response in created.items():
        assert response.status_code == 400
        assert response.json() == {"skill_name": [refusal("alice", name)]}
    assert (changed.status_code, replaced.status_code) == (400, 400)
    assert changed.json() == {"skill_name": [refusal("alice", "events.purge")]}
    assert replaced.json() == {"skill_name": [refusal("alice", "audit.purge")]}
    assert borrowed == [404, 404]
    assert staff_changed.status_code == 400
    assert staff_changed.json() == {"skill_name": [refusal("alice", "events.purge")]}
    assert staff_created.status_code == 400
    assert staff_created.json() == {"skill_name": [refusal("staff", "events.purge")]}
    assert alice("GET", f"/api/tasks/{echo['id']}").json()["skill_name"] == "demo.echo"

    run_scheduler()  # nothing is due: alice's echo runs at 03:00

    assert SystemEvent.objects.count() == len(events)
    assert AuditLog.objects.filter(pk=record.pk).exists()


def test_a_demoted_owner_is_refused_at_run_time_and_a_granted_one_runs_as_themselves(
    people, old_rows, django_user_model
):
    alice, bob, staff = people["alice"], people["bob"], people["staff"]
    events, record = old_rows
    users = {user.username: user for user in django_user_model.objects.all()}
    # An operator grants both the permission, as in the admin.
    for username in ("alice", "bob"):
        users[username].user_permissions.add(maintenance_permission())
    body = task_body("events.purge", params_json={"older_than_days": 7})
    alices = alice("POST", "/api/tasks", body).json()
    bobs = bob("POST", "/api/tasks", body).json()
    queued = [
        alice("POST", f"/api/tasks/{alices['id']}/run").status_code,
        bob("POST", f"/api/tasks/{bobs['id']}/run").status_code,
    ]
    # alice is demoted while her run waits in the queue.
    users["alice"].user_permissions.remove(maintenance_permission())
    run_again = alice("POST", f"/api/tasks/{alices['id']}/run")
    listed = [skill["name"] for skill in alice("GET", "/api/skills").json()["results"]]

    assert queued == [202, 202]
    assert run_again.status_code == 403
    assert run_again.json() == {"detail": refusal("alice", "events.purge")}
    assert listed == OPEN_SKILLS

    run_scheduler()

    [refused] = alice("GET", f"/api/executions?task_id={alices['id']}").json()["results"]
    assert (refused["status"], refused["output_text"]) == ("failed", "")
    assert refused["error_text"] == refusal("alice", "events.purge") + " Nothing ran."
    assert alice("GET", f"/api/tasks/{alices['id']}").json()["status"] == "failed"
    assert alice("POST", f"/api/tasks/{alices['id']}/enable").status_code == 403
    [ran] = bob("GET", f"/api/executions?task_id={bobs['id']}").json()["results"]
    assert ran["status"] == "success"
    assert ran["output_text"].startswith("Deleted 3 events older than 7 days")
    assert not SystemEvent.objects.filter(pk__in=[event.pk for event in events]).exists()
    assert AuditLog.objects.filter(pk=record.pk).exists()
    # bob's purge is on record as bob's, done by the scheduler in that execution.
    deletions = staff("GET", "/api/audit?table_name=system_events&operation=DELETE").json()
    assert deletions["count"] == 3
    assert {
        (entry["user_id"], entry["user_agent"], entry["ip_address"])
        for entry in deletions["results"]
    } == {(str(users["bob"].pk), "system:scheduler", None)}
    assert set(
        AuditLog.objects.filter(table_name="system_events", operation="DELETE").values_list(
            "request_id", flat=True
        )
    ) == {f"execution:{ran['id']}"}


def test_an_owner_sees_the_error_of_a_failed_run_and_staff_the_traceback(
    people, live_server, django_user_model
):
    alice = people["alice"]
    task = alice("POST", "/api/tasks", task_body("demo.fail", params_json={"message": "disk full"}))
    alice("POST", f"/api/tasks/{task.json()['id']}/run")

    run_scheduler()

    listed = alice("GET", f"/api/executions?task_id={task.json()['id']}")
    [execution] = listed.json()["results"]
    shown = alice("GET", f"/api/executions/{execution['id']}")
    assert execution["error_text"] == shown.json()["error_text"] == "RuntimeError: disk full"
    assert "traceback_text" not in shown.json()
    for response in (listed, shown):
        assert "Traceback" not in response.text
        assert "builtin_skills.py" not in response.text
    stored = ExecutionResult.objects.get(pk=execution["id"]).traceback_text
    assert stored.startswith("Traceback (most recent call last):")
    assert "builtin_skills.py" in stored
    # Staff see it in the admin, logged in on the live server.
    staff = django_user_model.objects.get(username="staff")
    staff.user_permissions.add(
        Permission.objects.get(
            content_type__app_label="scheduling", codename="view_executionresult"
        )
    )
    login = Client()
    login.force_login(staff)
    page = requests.get(
        f"{live_server.url}/admin/scheduling/executionresult/{execution['id']}/change/",
        cookies={"sessionid": login.cookies["sessionid"].value},
        timeout=10,
    )
    assert page.status_code == 200
    assert "Traceback (most recent call last):" in page.text
    assert "RuntimeError: disk full" in page.text
