import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditLog
from events.models import SystemEvent
from scheduling.agent_types import agent_types
from scheduling.models import Agent, ExecutionResult, Project, ScheduledTask

pytestmark = pytest.mark.django_db


def table_sizes():
    return [model.objects.count() for model in (Project, ScheduledTask, Agent, ExecutionResult)]


def test_seed_fills_every_table_and_is_idempotent():
    call_command("seed", executions=5, events=20, verbosity=0)
    first = table_sizes()

    call_command("seed", executions=5, events=20, verbosity=0)

    assert first == [6, 21, len(agent_types()), 105]
    assert table_sizes() == first
    assert set(Agent.objects.values_list("type", flat=True)) == set(agent_types())
    assert SystemEvent.objects.count() == 20


def test_seed_is_audited_as_the_seed_command():
    call_command("seed", executions=1, events=3, verbosity=0)

    actors = set(AuditLog.objects.values_list("user_id", flat=True))
    assert actors == {"system:seed"}
    assert AuditLog.objects.filter(table_name="system_events", operation="CREATE").count() == 3
    assert AuditLog.objects.filter(table_name="scheduled_tasks", operation="CREATE").count() == (
        ScheduledTask.objects.count()
    )


def test_seeded_data_keeps_the_rules():
    call_command("seed", executions=3, events=0, verbosity=0)

    for project in Project.objects.all():
        assert project.tasks_count == project.tasks.count()
    for task in ScheduledTask.objects.all():
        slots = list(task.executions.values_list("scheduled_for", flat=True))
        assert len(slots) == 3
        assert all(slot < task.next_run_at for slot in slots)
    assert not ExecutionResult.objects.filter(status__isnull=True).exists()


def test_seed_refuses_negative_counts():
    with pytest.raises(CommandError, match="must be >= 0"):
        call_command("seed", executions=-1, verbosity=0)


def test_seed_refuses_a_history_longer_than_its_bound():
    with pytest.raises(CommandError) as raised:
        call_command("seed", "--executions", "99999999999999999999", verbosity=0)

    assert str(raised.value) == "--executions must be at most 10,000."
    assert not ScheduledTask.objects.exists()


def test_seed_refuses_more_events_than_seed_events_makes_before_making_anything():
    with pytest.raises(CommandError) as raised:
        call_command("seed", "--events", "100000001", verbosity=0)

    assert str(raised.value) == "--events must be at most 100,000,000."
    assert not ScheduledTask.objects.exists()
