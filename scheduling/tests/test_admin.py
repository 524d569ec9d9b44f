import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils.timezone import now

from audit.models import AuditLog
from brain.validators import NOT_FINITE
from scheduling.cron import next_run
from scheduling.models import Agent, ExecutionResult, Project, ScheduledTask, TaskStatus

from .factories import (
    AgentFactory,
    ExecutionResultFactory,
    ProjectFactory,
    ScheduledTaskFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NO_INLINE_ROWS = {
    "executions-TOTAL_FORMS": "0",
    "executions-INITIAL_FORMS": "0",
    "executions-MIN_NUM_FORMS": "0",
    "executions-MAX_NUM_FORMS": "1000",
}


def task_form(task, **changes):
    values = {
        "skill_name": task.skill_name,
        "schedule_cron": task.schedule_cron,
        "timezone": task.timezone,
        "next_run_at_0": "",
        "next_run_at_1": "",
        "params_json": "{}",
        "status": task.status,
        "timeout_seconds": task.timeout_seconds,
        "user": task.user_id,
        "project": task.project_id or "",
    }
    if task.next_run_at:
        values["next_run_at_0"] = task.next_run_at.strftime("%Y-%m-%d")
        values["next_run_at_1"] = task.next_run_at.strftime("%H:%M:%S")
    return {**values, **NO_INLINE_ROWS, **changes}


@pytest.mark.parametrize(
    "url",
    [
        "/admin/scheduling/project/",
        "/admin/scheduling/scheduledtask/",
        "/admin/scheduling/agent/",
        "/admin/scheduling/executionresult/",
        "/admin/scheduling/project/add/",
        "/admin/scheduling/scheduledtask/add/",
        "/admin/scheduling/agent/add/",
        "/admin/scheduling/scheduledtask/?q=noop&status__exact=pending",
        "/admin/scheduling/agent/?q=agent&type=coder",
        "/admin/scheduling/executionresult/?status__exact=success",
    ],
)
def test_admin_pages_render(admin_client, url):
    task = ScheduledTaskFactory(project=None)
    ExecutionResultFactory(task=task)
    ProjectFactory()
    AgentFactory()

    assert admin_client.get(url).status_code == 200


def test_task_list_shows_the_next_run_in_the_tasks_time_zone(admin_client):
    ScheduledTaskFactory(
        schedule_cron="30 2 * * *",
        timezone="Europe/Berlin",
        next_run_at=datetime(2026, 7, 1, 0, 30, tzinfo=UTC),
    )

    response = admin_client.get("/admin/scheduling/scheduledtask/")

    # Under the schedule, as it reads: the date and the time are each kept on one line.
    text = re.sub(r"<[^>]+>", "", response.content.decode())
    assert "next 2026-07-01 02:30:00 CEST" in text


def test_agent_list_shows_the_time_since_last_activity(admin_client):
    AgentFactory(last_active_at=now() - timedelta(minutes=5))
    AgentFactory(last_active_at=None)

    content = admin_client.get("/admin/scheduling/agent/").content.decode()

    assert "5\xa0minutes ago" in content
    assert "never" in content


def test_task_page_shows_only_the_latest_executions(admin_client):
    task = ScheduledTaskFactory()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for minute in range(25):
        ExecutionResultFactory(
            task=task, started_at=start + timedelta(minutes=minute), worker=f"w{minute:02}"
        )

    content = admin_client.get(
        f"/admin/scheduling/scheduledtask/{task.pk}/change/"
    ).content.decode()

    assert "w24" in content and "w05" in content
    assert "w04" not in content


def test_admin_add_task_counts_it_in_its_project(admin_client):
    owner = UserFactory()
    project = ProjectFactory(user=owner)
    unsaved = ScheduledTask(
        skill_name="demo.echo", schedule_cron="0 * * * *", user=owner, project=project
    )
    before = now()

    response = admin_client.post("/admin/scheduling/scheduledtask/add/", task_form(unsaved))

    assert response.status_code == 302
    task = ScheduledTask.objects.get()
    assert task.next_run_at == next_run("0 * * * *", "UTC", before)
    project.refresh_from_db()
    assert project.tasks_count == 1


def test_admin_move_and_cron_change_go_through_the_service(admin_client):
    owner = UserFactory()
    first, second = ProjectFactory(user=owner), ProjectFactory(user=owner)
    task = ScheduledTaskFactory(
        user=owner, project=first, next_run_at=datetime(2035, 1, 1, tzinfo=UTC)
    )
    before = now()

    response = admin_client.post(
        f"/admin/scheduling/scheduledtask/{task.pk}/change/",
        task_form(task, project=second.pk, schedule_cron="15 4 * * *"),
    )

    assert response.status_code == 302
    task.refresh_from_db()
    assert task.next_run_at == next_run("15 4 * * *", "UTC", before)
    assert list(Project.objects.order_by("pk").values_list("tasks_count", flat=True)) == [0, 1]


@pytest.mark.parametrize(
    ("params_json", "error"),
    [
        ("[" * 100_000 + "]" * 100_000, "Enter a valid JSON."),
        ('{"message": 1e400}', NOT_FINITE),
        ('{"mesage": "typo"}', "demo.echo has no parameter &#x27;mesage&#x27;; it takes message."),
        (
            '{"message": "a", "message": "b"}',
            "Enter a valid JSON: the key &quot;message&quot; appears twice in one object.",
        ),
    ],
)
def test_admin_refuses_bad_params_with_a_field_error(admin_client, params_json, error):
    task = ScheduledTaskFactory(params_json={"message": "kept"})

    response = admin_client.post(
        f"/admin/scheduling/scheduledtask/{task.pk}/change/",
        task_form(task, params_json=params_json),
    )

    assert response.status_code == 200
    assert error in response.content.decode()
    task.refresh_from_db()
    assert task.params_json == {"message": "kept"}


def test_admin_keeps_the_owner_of_an_existing_task(admin_client):
    task = ScheduledTaskFactory()
    stranger = UserFactory()

    response = admin_client.post(
        f"/admin/scheduling/scheduledtask/{task.pk}/change/",
        task_form(task, user=stranger.pk, params_json='{"message": "a"}'),
    )

    assert response.status_code == 302
    owner_id = task.user_id
    task.refresh_from_db()
    assert (task.user_id, task.params_json) == (owner_id, {"message": "a"})


def test_admin_refuses_another_users_project_and_an_invalid_cron(admin_client):
    task = ScheduledTaskFactory()
    strangers_project = ProjectFactory()

    response = admin_client.post(
        f"/admin/scheduling/scheduledtask/{task.pk}/change/",
        task_form(task, project=strangers_project.pk, schedule_cron="61 * * * *"),
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors == {
        "schedule_cron": ["'61 * * * *' is not a valid cron expression."],
        "project": [f"Choose one of the projects of the task's owner, {task.user.username}."],
    }
    assert ScheduledTask.objects.get(pk=task.pk).project_id == task.project_id


def project_options(page):
    """(value, label) of each option of the task form's project choice."""
    select = re.search(r'<select name="project".*?</select>', page.content.decode(), re.S)
    return re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', select.group(0))


def test_task_form_names_each_project_with_its_owner(admin_client):
    anna, bob = UserFactory(username="anna"), UserFactory(username="bob")
    annas = ProjectFactory(user=anna, name="Ops")
    bobs = ProjectFactory(user=bob, name="Ops")
    backups = ProjectFactory(user=bob, name="Backups")
    task = ScheduledTaskFactory(user=anna, project=None)

    added = admin_client.get("/admin/scheduling/scheduledtask/add/")
    changed = admin_client.get(f"/admin/scheduling/scheduledtask/{task.pk}/change/")

    assert project_options(added) == [
        (str(backups.pk), "Backups (bob)"),
        (str(annas.pk), "Ops (anna)"),
        (str(bobs.pk), "Ops (bob)"),
    ]
    # The owner of an existing task is fixed: only their projects are offered.
    assert project_options(changed) == [(str(annas.pk), "Ops (anna)")]


def test_admin_add_refuses_a_project_of_another_owner(admin_client):
    anna, bob = UserFactory(username="anna"), UserFactory(username="bob")
    bobs = ProjectFactory(user=bob, name="Ops")
    unsaved = ScheduledTask(skill_name="demo.echo", schedule_cron="0 * * * *", user=anna)

    response = admin_client.post(
        "/admin/scheduling/scheduledtask/add/", task_form(unsaved, project=bobs.pk)
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors == {"project": ["The project belongs to another user."]}
    assert ScheduledTask.objects.count() == 0
    bobs.refresh_from_db()
    assert bobs.tasks_count == 0


def test_admin_refuses_an_unknown_skill(admin_client):
    unsaved = ScheduledTask(skill_name="no.such", schedule_cron="0 * * * *", user=UserFactory())

    response = admin_client.post("/admin/scheduling/scheduledtask/add/", task_form(unsaved))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "skill_name": ["Select a valid choice. no.such is not one of the available choices."]
    }
    assert not ScheduledTask.objects.exists()


def test_admin_bulk_delete_keeps_tasks_count_exact(admin_client):
    owner = UserFactory()
    project = ProjectFactory(user=owner)
    tasks = [ScheduledTaskFactory(user=owner, project=project) for _ in range(3)]

    response = admin_client.post(
        "/admin/scheduling/scheduledtask/",
        {
            "action": "delete_selected",
            "_selected_action": [tasks[0].pk, tasks[1].pk],
            "post": "yes",
        },
    )

    assert response.status_code == 302
    project.refresh_from_db()
    assert (project.tasks_count, ScheduledTask.objects.count()) == (1, 1)


def test_admin_agent_types_follow_the_registry(admin_client, settings):
    settings.BRAIN_AGENT_TYPES = ["translator"]

    response = admin_client.post(
        "/admin/scheduling/agent/add/",
        {"name": "babel", "type": "translator", "capabilities_json": "[]", "status": "idle"},
    )
    refused = admin_client.post(
        "/admin/scheduling/agent/add/",
        {"name": "x", "type": "wizard", "capabilities_json": "{}", "status": "idle"},
    )

    assert response.status_code == 302
    assert Agent.objects.get().type == "translator"
    assert refused.context["adminform"].form.errors == {
        "type": ["Select a valid choice. wizard is not one of the available choices."],
        "capabilities_json": ["Must be a JSON array."],
    }


def test_admin_project_add_change_and_delete(admin_client):
    owner = UserFactory()

    added = admin_client.post(
        "/admin/scheduling/project/add/", {"name": "Ops", "description": "", "user": owner.pk}
    )
    project = Project.objects.get()
    task = ScheduledTaskFactory(user=owner, project=project)
    changed = admin_client.post(
        f"/admin/scheduling/project/{project.pk}/change/", {"name": "Ops 2", "description": "d"}
    )
    refused = admin_client.post(f"/admin/scheduling/project/{project.pk}/delete/", {"post": "yes"})
    task.refresh_from_db()
    kept = (task.project_id, Project.objects.get().tasks_count)
    audited = AuditLog.objects.filter(table_name="projects", operation="DELETE").exists()
    admin_client.post(f"/admin/scheduling/scheduledtask/{task.pk}/delete/", {"post": "yes"})
    deleted = admin_client.post(f"/admin/scheduling/project/{project.pk}/delete/", {"post": "yes"})

    assert [added.status_code, changed.status_code, refused.status_code] == [302, 302, 200]
    assert "would require deleting the following protected related objects" in (
        refused.content.decode()
    )
    assert (kept, audited) == ((project.pk, 1), False)
    assert deleted.status_code == 302
    assert not Project.objects.exists()
    assert AuditLog.objects.filter(
        table_name="projects", operation="DELETE", record_id=str(project.pk)
    ).exists()


def test_admin_bulk_delete_refuses_projects_with_tasks(admin_client):
    busy, empty = ProjectFactory(), ProjectFactory()
    ScheduledTaskFactory(user=busy.user, project=busy)

    response = admin_client.post(
        "/admin/scheduling/project/",
        {"action": "delete_selected", "_selected_action": [busy.pk, empty.pk], "post": "yes"},
    )

    assert response.status_code == 200
    assert "would require deleting the following protected related objects" in (
        response.content.decode()
    )
    assert Project.objects.count() == 2


def test_executions_are_read_only_and_link_to_their_task(admin_client):
    execution = ExecutionResultFactory(
        status="failed",
        error_text="RuntimeError: boom",
        traceback_text=(
            'Traceback (most recent call last):\n  File "/srv/skill.py"\nRuntimeError: boom'
        ),
    )
    url = f"/admin/scheduling/executionresult/{execution.pk}/change/"

    html = admin_client.get(url).content.decode()
    changed = admin_client.post(url, {"task": execution.task_id, "status": "success"})
    added = admin_client.get("/admin/scheduling/executionresult/add/")

    start = html.index('id="executionresult_form"')
    form = html[start : html.index("</form>", start)]
    assert re.findall(r"<(?:input|textarea|select)\b[^>]*>", form) == [
        re.search(r'<input type="hidden" name="csrfmiddlewaretoken"[^>]*>', form).group()
    ]
    assert f'href="/admin/scheduling/scheduledtask/{execution.task_id}/change/"' in html
    assert ">RuntimeError: boom</pre>" in html
    assert (
        ">Traceback (most recent call last):\n  File &quot;/srv/skill.py&quot;\n"
        "RuntimeError: boom</pre>" in html
    )
    assert '<strong class="badge badge-failed" style="color: #ba2121">failed</strong>' in html
    assert (changed.status_code, added.status_code) == (403, 403)
    execution.refresh_from_db()
    assert execution.status == "failed"


def test_admin_deletes_an_execution_through_the_service(admin_client):
    execution = ExecutionResultFactory()

    response = admin_client.post(
        f"/admin/scheduling/executionresult/{execution.pk}/delete/", {"post": "yes"}
    )

    assert response.status_code == 302
    assert not ExecutionResult.objects.exists()
    assert AuditLog.objects.filter(
        table_name="execution_results", record_id=str(execution.pk), operation="DELETE"
    ).exists()


def test_task_list_annotates_runs_in_one_query(admin_client, django_assert_max_num_queries):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    busy = ScheduledTaskFactory(schedule_cron="30 3 * * *")
    for minute, status in enumerate(["success", "success", "failed", "success"]):
        ExecutionResultFactory(
            task=busy,
            status=status,
            started_at=start + timedelta(minutes=minute),
            ended_at=start + timedelta(minutes=minute, seconds=1),
        )
    ExecutionResultFactory(
        task=busy, status=None, started_at=start + timedelta(hours=1), ended_at=None
    )
    idle = ScheduledTaskFactory(schedule_cron="*/5 * * * *")
    ScheduledTaskFactory.create_batch(5)

    response = admin_client.get("/admin/scheduling/scheduledtask/")
    with django_assert_max_num_queries(12) as few:
        admin_client.get("/admin/scheduling/scheduledtask/")
    ScheduledTaskFactory.create_batch(10)
    with django_assert_max_num_queries(len(few)):  # no query per row
        admin_client.get("/admin/scheduling/scheduledtask/")

    rows = {task.pk: task for task in response.context["cl"].result_list}
    assert (rows[busy.pk].run_count, rows[busy.pk].success_rate) == (5, 0.75)
    assert rows[busy.pk].last_run_at == start + timedelta(hours=1)
    assert (rows[idle.pk].run_count, rows[idle.pk].success_rate, rows[idle.pk].last_run_at) == (
        0,
        None,
        None,
    )
    html = response.content.decode()
    assert "At 03:30" in html and "Every 5 minutes" in html
    assert "75%" in html
    assert '<strong class="badge badge-running" style="color: #417690">running</strong>' in html


def test_task_form_offers_the_registered_skills(admin_client):
    html = admin_client.get("/admin/scheduling/scheduledtask/add/").content.decode()

    select = html[html.index('<select name="skill_name"') :]
    select = select[: select.index("</select>")]
    assert '<option value="system.health_check">system.health_check</option>' in select
    assert '<option value="demo.echo">demo.echo</option>' in select


def test_agents_are_listed_by_last_activity(admin_client):
    AgentFactory(name="never-seen", last_active_at=None)
    AgentFactory(name="long-ago", last_active_at=now() - timedelta(days=2))
    AgentFactory(name="just-now", last_active_at=now())

    response = admin_client.get("/admin/scheduling/agent/")

    names = [agent.name for agent in response.context["cl"].result_list]
    assert names == ["just-now", "long-ago", "never-seen"]


def test_change_forms_link_to_the_rows_audit_trail(admin_client):
    agent = Agent.objects.create(name="a1", type="coder")

    page = admin_client.get(f"/admin/scheduling/agent/{agent.pk}/change/").content.decode()

    assert f'href="/admin/audit/auditlog/?table_name=agents&amp;record_id={agent.pk}"' in page


def run_action(admin_client, action, tasks):
    response = admin_client.post(
        "/admin/scheduling/scheduledtask/",
        {"action": action, "_selected_action": [task.pk for task in tasks]},
        follow=True,
    )
    assert response.redirect_chain == [("/admin/scheduling/scheduledtask/", 302)]
    return [str(message) for message in response.context["messages"]]


def test_admin_run_now_queues_the_tasks_the_state_allows(admin_client, admin_user):
    idle = ScheduledTaskFactory(next_run_at=datetime(2035, 1, 1, tzinfo=UTC))
    busy = ScheduledTaskFactory(next_run_at=datetime(2035, 1, 1, tzinfo=UTC))
    ScheduledTask.objects.filter(pk=busy.pk).update(status=TaskStatus.RUNNING, claimed_by="w")
    before = now()

    notes = run_action(admin_client, "run_now", [idle, busy])

    assert notes == [
        f"Task {busy.pk}: The task is running; it can be run again once this run ends.",
        "1 task(s) queued.",
    ]
    idle.refresh_from_db()
    assert idle.status == TaskStatus.PENDING
    assert before <= idle.next_run_at <= now()
    busy.refresh_from_db()
    assert (busy.status, busy.next_run_at) == (TaskStatus.RUNNING, datetime(2035, 1, 1, tzinfo=UTC))
    record = AuditLog.objects.get(
        table_name="scheduled_tasks", record_id=str(idle.pk), operation="UPDATE"
    )
    assert (record.user_id, set(record.changed_fields)) == (
        str(admin_user.pk),
        {"next_run_at", "updated_at"},
    )


def test_admin_disable_and_enable_go_through_the_scheduler_services(admin_client, admin_user):
    task = ScheduledTaskFactory(
        schedule_cron="0 * * * *", next_run_at=datetime(2020, 1, 1, tzinfo=UTC)
    )

    disabled_notes = run_action(admin_client, "disable", [task])
    task.refresh_from_db()
    disabled_status = task.status
    before = now()
    enabled_notes = run_action(admin_client, "enable", [task])

    assert (disabled_notes, disabled_status) == (["1 task(s) disabled."], TaskStatus.DISABLED)
    assert enabled_notes == ["1 task(s) enabled."]
    task.refresh_from_db()
    assert (task.status, task.next_run_at) == (
        TaskStatus.PENDING,
        next_run("0 * * * *", "UTC", before),
    )
    assert list(
        AuditLog.objects.filter(table_name="scheduled_tasks", operation="UPDATE")
        .order_by("id")
        .values_list("user_id", "changed_fields__status__new")
    ) == [(str(admin_user.pk), "disabled"), (str(admin_user.pk), "pending")]


def test_admin_sets_a_status_but_not_running(admin_client):
    task = ScheduledTaskFactory(status=TaskStatus.PENDING)
    url = f"/admin/scheduling/scheduledtask/{task.pk}/change/"

    refused = admin_client.post(url, task_form(task, status=TaskStatus.RUNNING))
    task.refresh_from_db()
    status_after_refusal = task.status
    disabled = admin_client.post(url, task_form(task, status=TaskStatus.DISABLED))

    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors == {
        "status": ["running is set by the scheduler when it runs the task: use the Run now action."]
    }
    assert status_after_refusal == TaskStatus.PENDING
    assert disabled.status_code == 302
    task.refresh_from_db()
    assert task.status == TaskStatus.DISABLED
    assert AuditLog.objects.filter(
        table_name="scheduled_tasks", record_id=str(task.pk), operation="UPDATE"
    ).get().changed_fields["status"] == {"old": "pending", "new": "disabled"}


def test_admin_saves_a_running_task_with_its_status_left_as_it_is(admin_client):
    task = ScheduledTaskFactory()
    ScheduledTask.objects.filter(pk=task.pk).update(status="running", claimed_by="worker-1")
    task.refresh_from_db()

    response = admin_client.post(
        f"/admin/scheduling/scheduledtask/{task.pk}/change/",
        task_form(task, timeout_seconds=42),
    )

    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.status, task.claimed_by, task.timeout_seconds) == ("running", "worker-1", 42)


def test_admin_refuses_a_key_repeated_in_a_nested_object_of_capabilities(admin_client):
    before = list(AuditLog.objects.values())

    response = admin_client.post(
        "/admin/scheduling/agent/add/",
        {
            "name": "babel",
            "type": "coder",
            "capabilities_json": '[{"skill": "a", "skill": "b"}]',
            "status": "idle",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "capabilities_json": ['Enter a valid JSON: the key "skill" appears twice in one object.']
    }
    assert '[{"skill": "a", "skill": "b"}]' in response.content.decode().replace("&quot;", '"')
    assert not Agent.objects.exists()
    assert list(AuditLog.objects.values()) == before


def test_admin_refuses_an_agent_name_taken_in_another_case(admin_client):
    AgentFactory(name="Builder")

    response = admin_client.post(
        "/admin/scheduling/agent/add/",
        {"name": "builder", "type": "coder", "capabilities_json": "[]", "status": "idle"},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "name": ["An agent with this name already exists."]
    }
    assert list(Agent.objects.values_list("name", flat=True)) == ["Builder"]
