from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils.timezone import now

from scheduling import services
from scheduling.cron import next_run
from scheduling.models import Agent, ExecutionResult, Project, ScheduledTask
from scheduling.services.agents import AGENT_NAME_UNIQUE
from scheduling.services.common import save_or_conflict

from .factories import (
    AgentFactory,
    ExecutionResultFactory,
    ProjectFactory,
    ScheduledTaskFactory,
)

pytestmark = pytest.mark.django_db


def counts(*projects):
    return [Project.objects.get(pk=project.pk).tasks_count for project in projects]


# Projects


def test_project_create_starts_with_no_tasks(user):
    project = services.project_create(user=user, name="Ops", description="Operations")

    assert (project.name, project.description, project.user, project.tasks_count) == (
        "Ops",
        "Operations",
        user,
        0,
    )


def test_project_update_changes_name_and_description_only(user):
    project = ProjectFactory(user=user)

    with pytest.raises(TypeError):
        services.project_update(project=project, data={"tasks_count": 9})
    services.project_update(project=project, data={"name": "Renamed"})

    project.refresh_from_db()
    assert (project.name, project.tasks_count) == ("Renamed", 0)


def test_project_update_of_a_stale_copy_keeps_the_tasks_count(user):
    stale = ProjectFactory(user=user)
    ScheduledTaskFactory(user=user, project=stale)

    services.project_update(project=stale, data={"name": "Renamed"})

    assert Project.objects.values_list("name", "tasks_count").get(pk=stale.pk) == ("Renamed", 1)


def test_project_name_with_nul_is_refused(user):
    with pytest.raises(ValidationError) as error:
        services.project_create(user=user, name="bad\x00name")

    assert error.value.message_dict == {"name": ["Null characters are not allowed."]}
    assert not Project.objects.exists()


def test_project_delete_refuses_a_project_with_tasks(user):
    project = ProjectFactory(user=user)
    task = ScheduledTaskFactory(user=user, project=project)

    with pytest.raises(services.ProjectHasTasks) as error:
        services.project_delete(project=project)

    assert (error.value.count, str(error.value)) == (
        1,
        "This project has 1 task: delete or move it first.",
    )
    task.refresh_from_db()
    assert task.project_id == project.pk
    assert Project.objects.filter(pk=project.pk).exists()


def test_project_delete_of_an_empty_project(user):
    project = ProjectFactory(user=user)

    services.project_delete(project=project)

    assert not Project.objects.exists()


def test_deleting_a_user_takes_their_projects_and_tasks(user):
    task = ScheduledTaskFactory(user=user, project=ProjectFactory(user=user))

    user.delete()

    assert not ScheduledTask.objects.filter(pk=task.pk).exists()
    assert not Project.objects.exists()


# Tasks


def test_task_create_computes_next_run_in_the_task_timezone(user):
    before = now()

    task = services.task_create(
        user=user, skill_name="demo.echo", schedule_cron="30 2 * * *", timezone="Europe/Berlin"
    )

    assert task.next_run_at == next_run("30 2 * * *", "Europe/Berlin", before)


def test_task_create_keeps_a_given_next_run_at(user):
    moment = datetime(2030, 1, 1, tzinfo=UTC)

    task = services.task_create(
        user=user, skill_name="demo.echo", schedule_cron="* * * * *", next_run_at=moment
    )

    assert task.next_run_at == moment


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("skill_name", "no.such", "Unknown skill 'no.such'."),
        ("schedule_cron", "61 * * * *", "is not a valid cron expression"),
        ("schedule_cron", "0 0 31 2 *", "never fires"),
        ("schedule_cron", "0 0 * * * *", "exactly five fields"),
        ("timezone", "Mars/Olympus", "Unknown time zone"),
        ("params_json", [1, 2], "Must be a JSON object."),
        ("params_json", [], "Must be a JSON object."),
        ("params_json", {"message": "nul\x00"}, "Null characters are not allowed."),
        ("params_json", {"message": 1}, "'message' must be a string; got 1."),
    ],
)
def test_task_create_refuses_invalid_fields(user, field, value, message):
    arguments = {
        "user": user,
        "skill_name": "demo.echo",
        "schedule_cron": "* * * * *",
        field: value,
    }

    with pytest.raises(ValidationError) as error:
        services.task_create(**arguments)

    assert list(error.value.message_dict) == [field]
    assert message in error.value.message_dict[field][0]
    assert not ScheduledTask.objects.exists()


def test_task_create_may_start_disabled(user):
    task = services.task_create(
        user=user, skill_name="demo.echo", schedule_cron="* * * * *", status="disabled"
    )

    assert ScheduledTask.objects.values_list("status", flat=True).get(pk=task.pk) == "disabled"


@pytest.mark.parametrize("status", ["completed", "failed", "disabled", "pending"])
def test_task_create_takes_any_status_but_running(user, status):
    task = services.task_create(
        user=user, skill_name="demo.echo", schedule_cron="* * * * *", status=status
    )

    assert ScheduledTask.objects.get().status == status == task.status


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (
            "running",
            "running is set by the scheduler when it runs the task: use POST /api/tasks/{id}/run.",
        ),
        ("sleeping", "Not a status."),
    ],
)
def test_task_create_refuses_running_and_unknown_statuses(user, status, message):
    with pytest.raises(ValidationError) as error:
        services.task_create(
            user=user, skill_name="demo.echo", schedule_cron="* * * * *", status=status
        )

    assert error.value.message_dict == {"status": [message]}
    assert not ScheduledTask.objects.exists()


def test_task_create_refuses_another_users_project(user, other_user):
    project = ProjectFactory(user=other_user)

    with pytest.raises(ValidationError) as error:
        ScheduledTaskFactory(user=user, project=project)

    assert error.value.message_dict == {"project": ["The project belongs to another user."]}
    assert counts(project) == [0]


def test_task_update_recomputes_next_run_when_the_cron_changes(user):
    task = ScheduledTaskFactory(user=user, next_run_at=datetime(2030, 1, 1, tzinfo=UTC))
    before = now()

    services.task_update(task=task, data={"schedule_cron": "0 9 * * 1"})

    assert task.next_run_at == next_run("0 9 * * 1", "UTC", before)


def test_task_update_recomputes_next_run_when_the_timezone_changes(user):
    task = ScheduledTaskFactory(user=user, schedule_cron="0 9 * * *")
    before = now()

    services.task_update(task=task, data={"timezone": "America/New_York"})

    task.refresh_from_db()
    assert task.next_run_at == next_run("0 9 * * *", "America/New_York", before)


def test_task_update_keeps_next_run_when_the_schedule_is_unchanged(user):
    moment = datetime(2030, 1, 1, tzinfo=UTC)
    task = ScheduledTaskFactory(user=user, next_run_at=moment)

    services.task_update(
        task=task, data={"params_json": {"message": "a"}, "schedule_cron": "*/5 * * * *"}
    )

    task.refresh_from_db()
    assert (task.next_run_at, task.params_json) == (moment, {"message": "a"})


def test_task_update_with_cron_and_next_run_keeps_the_given_next_run(user):
    task = ScheduledTaskFactory(user=user)
    moment = datetime(2031, 5, 5, tzinfo=UTC)

    services.task_update(task=task, data={"schedule_cron": "0 0 * * *", "next_run_at": moment})

    assert task.next_run_at == moment


def test_task_update_with_an_invalid_cron_changes_nothing(user):
    task = ScheduledTaskFactory(user=user)

    with pytest.raises(ValidationError):
        services.task_update(task=task, data={"schedule_cron": "nope"})

    task.refresh_from_db()
    assert task.schedule_cron == "*/5 * * * *"


def test_tasks_count_follows_create_move_and_delete(user):
    first, second = ProjectFactory(user=user), ProjectFactory(user=user)
    task = ScheduledTaskFactory(user=user, project=first)
    ScheduledTaskFactory(user=user, project=first)
    assert counts(first, second) == [2, 0]

    services.task_update(task=task, data={"project": second})
    assert counts(first, second) == [1, 1]

    services.task_update(task=task, data={"project": None})
    assert counts(first, second) == [1, 0]

    services.task_update(task=task, data={"project": first})
    services.task_delete(task=task)
    assert counts(first, second) == [1, 0]


def test_task_update_moves_from_the_committed_project_not_a_stale_copy(user):
    first, second, third = (ProjectFactory(user=user) for _ in range(3))
    task = ScheduledTaskFactory(user=user, project=first)
    stale = ScheduledTask.objects.get(pk=task.pk)
    services.task_update(task=task, data={"project": second})

    services.task_update(task=stale, data={"project": third})

    assert counts(first, second, third) == [0, 0, 1]


def test_task_delete_twice_decrements_once(user):
    project = ProjectFactory(user=user)
    task = ScheduledTaskFactory(user=user, project=project)
    copy = ScheduledTask.objects.get(pk=task.pk)

    services.task_delete(task=task)
    with pytest.raises(ScheduledTask.DoesNotExist):
        services.task_delete(task=copy)

    assert counts(project) == [0]


def test_task_delete_cascades_to_its_executions(user):
    execution = ExecutionResultFactory(task=ScheduledTaskFactory(user=user))

    services.task_delete(task=execution.task)

    assert not ExecutionResult.objects.exists()


# Agents


def test_agent_create_with_every_field():
    agent = services.agent_create(name="rex", type="reviewer", capabilities_json=["diff"])

    assert (agent.name, agent.type, agent.capabilities_json, agent.status) == (
        "rex",
        "reviewer",
        ["diff"],
        "idle",
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("type", "wizard", "Unknown agent type 'wizard'"),
        ("status", "asleep", "is not a valid choice"),
        ("capabilities_json", {"python": True}, "Must be a JSON array."),
        ("capabilities_json", {}, "Must be a JSON array."),
        ("capabilities_json", ["\x00"], "Null characters are not allowed."),
        ("name", "a\x00b", "Null characters are not allowed."),
    ],
)
def test_agent_create_refuses_invalid_fields(field, value, message):
    with pytest.raises(ValidationError) as error:
        services.agent_create(**{"name": "a", "type": "coder", field: value})

    assert list(error.value.message_dict) == [field]
    assert message in error.value.message_dict[field][0]
    assert not Agent.objects.exists()


@pytest.mark.parametrize("name", ["REX", "Rex", "rex"])
def test_agent_name_is_unique_whatever_the_case(name):
    AgentFactory(name="rex")
    other = AgentFactory(name="builder")

    with pytest.raises(ValidationError) as created:
        services.agent_create(name=name, type="coder")
    with pytest.raises(ValidationError) as renamed:
        services.agent_update(agent=other, data={"name": name})

    taken = {"name": ["An agent with this name already exists."]}
    assert (created.value.message_dict, renamed.value.message_dict) == (taken, taken)
    assert sorted(Agent.objects.values_list("name", flat=True)) == ["builder", "rex"]


def test_agent_renamed_to_its_own_name_in_another_case():
    agent = AgentFactory(name="rex")

    services.agent_update(agent=agent, data={"name": "Rex"})

    assert Agent.objects.get().name == "Rex"


def test_agent_name_is_unique():
    AgentFactory(name="rex")

    with pytest.raises(ValidationError) as error:
        services.agent_create(name="rex", type="coder")

    assert error.value.message_dict == {"name": ["An agent with this name already exists."]}


def test_agent_types_are_extendable_in_settings(settings):
    settings.BRAIN_AGENT_TYPES = ["translator"]

    agent = services.agent_create(name="babel", type="translator")

    assert agent.type == "translator"


def test_agent_update_of_a_stale_copy_keeps_a_later_heartbeat():
    stale = AgentFactory(name="rex", status="idle")
    services.agent_heartbeat(agent=Agent.objects.get(pk=stale.pk), status="busy")
    beat_at = Agent.objects.get(pk=stale.pk).last_active_at

    services.agent_update(agent=stale, data={"name": "max"})

    assert Agent.objects.values_list("name", "status", "last_active_at").get(pk=stale.pk) == (
        "max",
        "busy",
        beat_at,
    )


def test_agent_heartbeat_sets_last_active_and_optional_status():
    agent = AgentFactory(status="idle")
    before = now()

    services.agent_heartbeat(agent=agent)
    assert (agent.status, agent.last_active_at >= before) == ("idle", True)

    services.agent_heartbeat(agent=agent, status="busy")
    agent.refresh_from_db()
    assert agent.status == "busy"


# Executions


def test_execution_create_starts_a_run_without_status(user):
    task = ScheduledTaskFactory(user=user)

    execution = services.execution_create(task=task, worker="w1")

    assert (execution.status, execution.ended_at, execution.duration_ms) == (None, None, None)
    assert execution.started_at <= now()


def test_execution_create_computes_duration_from_the_times(user):
    started = datetime(2026, 1, 1, tzinfo=UTC)

    execution = services.execution_create(
        task=ScheduledTaskFactory(user=user),
        started_at=started,
        ended_at=started + timedelta(seconds=1, milliseconds=250),
        status="success",
    )

    assert execution.duration_ms == 1250


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"duration_ms": -1}, "duration_ms cannot be negative."),
        (
            {"ended_at": datetime(2025, 12, 31, tzinfo=UTC), "duration_ms": 5},
            "ended_at cannot be before started_at.",
        ),
    ],
)
def test_execution_create_refuses_constraint_violations(user, arguments, message):
    task = ScheduledTaskFactory(user=user)

    with pytest.raises(ValidationError) as error:
        services.execution_create(
            task=task, started_at=datetime(2026, 1, 1, tzinfo=UTC), status="failed", **arguments
        )

    assert error.value.messages == [message]
    assert not ExecutionResult.objects.exists()


def test_execution_create_refuses_a_second_run_of_one_slot(user):
    task = ScheduledTaskFactory(user=user)
    slot = datetime(2026, 1, 1, tzinfo=UTC)
    services.execution_create(task=task, scheduled_for=slot)

    with pytest.raises(ValidationError) as error:
        services.execution_create(task=task, scheduled_for=slot)

    assert error.value.message_dict == {
        "scheduled_for": ["This task already has an execution for that slot."]
    }
    assert ExecutionResult.objects.count() == 1


def test_execution_complete_sets_status_end_and_duration(user):
    started = datetime(2026, 1, 1, tzinfo=UTC)
    execution = services.execution_create(task=ScheduledTaskFactory(user=user), started_at=started)

    services.execution_complete(
        execution=execution,
        status="failed",
        output_text="partial",
        error_text="Traceback",
        ended_at=started + timedelta(milliseconds=1500),
    )

    execution.refresh_from_db()
    assert (
        execution.status,
        execution.duration_ms,
        execution.output_text,
        execution.error_text,
    ) == ("failed", 1500, "partial", "Traceback")


def test_execution_complete_defaults_the_end_to_now(user):
    execution = services.execution_create(task=ScheduledTaskFactory(user=user))

    services.execution_complete(execution=execution, status="success")

    assert execution.ended_at >= execution.started_at
    assert execution.duration_ms >= 0


def test_execution_complete_refuses_a_second_completion(user):
    execution = services.execution_create(task=ScheduledTaskFactory(user=user))
    services.execution_complete(execution=execution, status="success", output_text="first")

    with pytest.raises(services.ExecutionStateError) as error:
        services.execution_complete(execution=execution, status="failed", output_text="second")

    assert str(error.value) == "This execution is already complete (success)."
    execution.refresh_from_db()
    assert (execution.status, execution.output_text) == ("success", "first")


@pytest.mark.parametrize(
    ("arguments", "errors"),
    [
        (
            {"status": "exploded"},
            {"status": ["A final status is one of success, failed, timeout, cancelled."]},
        ),
        (
            {"status": "success", "ended_at": datetime(2000, 1, 1, tzinfo=UTC)},
            {"ended_at": ["ended_at cannot be before started_at."]},
        ),
    ],
)
def test_execution_complete_refuses_bad_input(user, arguments, errors):
    execution = services.execution_create(task=ScheduledTaskFactory(user=user))

    with pytest.raises(ValidationError) as error:
        services.execution_complete(execution=execution, **arguments)

    assert error.value.message_dict == errors
    execution.refresh_from_db()
    assert execution.status is None


def test_execution_update_recomputes_duration_when_the_end_moves(user):
    execution = ExecutionResultFactory(task=ScheduledTaskFactory(user=user))

    services.execution_update(
        execution=execution, data={"ended_at": execution.started_at + timedelta(seconds=7)}
    )

    assert execution.duration_ms == 7000


def test_execution_update_keeps_a_final_status(user):
    execution = ExecutionResultFactory(task=ScheduledTaskFactory(user=user), status="failed")

    services.execution_update(execution=execution, data={"status": "failed", "worker": "w"})
    for status in ("cancelled", None):
        with pytest.raises(ValidationError) as error:
            services.execution_update(execution=execution, data={"status": status})
        assert error.value.message_dict == {
            "status": ["This execution is complete (failed): its status is final."]
        }
    execution.refresh_from_db()
    assert (execution.status, execution.worker) == ("failed", "w")


def test_execution_update_of_a_stale_copy_keeps_a_later_completion(user):
    stale = ExecutionResultFactory(
        task=ScheduledTaskFactory(user=user), status=None, ended_at=None, duration_ms=None
    )
    ended_at = stale.started_at + timedelta(seconds=3)
    services.execution_complete(
        execution=ExecutionResult.objects.get(pk=stale.pk), status="success", ended_at=ended_at
    )

    services.execution_update(execution=stale, data={"output_text": "late note"})

    assert ExecutionResult.objects.values_list(
        "status", "ended_at", "duration_ms", "output_text"
    ).get(pk=stale.pk) == ("success", ended_at, 3000, "late note")


def test_execution_complete_of_a_stale_copy_keeps_a_later_output(user):
    stale = ExecutionResultFactory(
        task=ScheduledTaskFactory(user=user), status=None, ended_at=None, duration_ms=None
    )
    services.execution_update(
        execution=ExecutionResult.objects.get(pk=stale.pk), data={"output_text": "progress"}
    )

    services.execution_complete(execution=stale, status="success")

    assert ExecutionResult.objects.values_list("status", "output_text").get(pk=stale.pk) == (
        "success",
        "progress",
    )


def test_execution_delete(user):
    execution = ExecutionResultFactory(task=ScheduledTaskFactory(user=user))

    services.execution_delete(execution=execution)

    assert not ExecutionResult.objects.exists()


# Conflicts a concurrent write slips in after validation


def test_save_or_conflict_reports_a_violation_of_the_expected_unique_constraint():
    AgentFactory(name="rex")
    duplicate = Agent(name="rex", type="coder")

    with pytest.raises(ValidationError) as error:
        save_or_conflict(
            duplicate, constraint=AGENT_NAME_UNIQUE, conflict_field="name", conflict_message="taken"
        )

    assert error.value.message_dict == {"name": ["taken"]}
    assert Agent.objects.filter(name="rex").count() == 1


def test_save_or_conflict_lets_a_violation_of_another_unique_constraint_through():
    AgentFactory(name="rex")
    duplicate = Agent(name="rex", type="coder")

    with pytest.raises(IntegrityError, match="agents_name_lower_unique"):
        save_or_conflict(
            duplicate, constraint="some_other_key", conflict_field="name", conflict_message="taken"
        )

    assert Agent.objects.filter(name="rex").count() == 1


def test_save_or_conflict_lets_a_check_violation_through(user):
    task = ScheduledTaskFactory(user=user)
    negative = ExecutionResult(task=task, started_at=now(), duration_ms=-1)

    with pytest.raises(IntegrityError, match="execution_results_duration_non_negative"):
        save_or_conflict(
            negative,
            constraint="execution_results_one_run_per_slot",
            conflict_field="scheduled_for",
            conflict_message="taken",
        )

    assert not ExecutionResult.objects.exists()
