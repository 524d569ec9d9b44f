"""factory_boy factories of the scheduling models. Tasks are created through task_create, so
their projects' tasks_count is always exact."""

from datetime import UTC, datetime, timedelta

import factory
from django.contrib.auth import get_user_model

from scheduling import services
from scheduling.models import (
    Agent,
    AgentStatus,
    ExecutionResult,
    Project,
    ScheduledTask,
)


class UserFactory(factory.django.DjangoModelFactory):
    username = factory.Sequence(lambda n: f"user{n}")

    class Meta:
        model = get_user_model()


class ProjectFactory(factory.django.DjangoModelFactory):
    name = factory.Sequence(lambda n: f"Project {n}")
    description = "A project"
    user = factory.SubFactory(UserFactory)

    class Meta:
        model = Project


class ScheduledTaskFactory(factory.django.DjangoModelFactory):
    skill_name = "demo.echo"
    schedule_cron = "*/5 * * * *"
    timezone = "UTC"
    params_json = factory.LazyFunction(dict)
    user = factory.SubFactory(UserFactory)
    project = None

    class Meta:
        model = ScheduledTask

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.task_create(**kwargs)


class AgentFactory(factory.django.DjangoModelFactory):
    name = factory.Sequence(lambda n: f"agent-{n}")
    type = "coder"
    capabilities_json = factory.LazyFunction(lambda: ["python"])
    status = AgentStatus.IDLE

    class Meta:
        model = Agent


class ExecutionResultFactory(factory.django.DjangoModelFactory):
    task = factory.SubFactory(ScheduledTaskFactory)
    started_at = factory.LazyFunction(lambda: datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
    ended_at = factory.LazyAttribute(lambda execution: execution.started_at + timedelta(seconds=2))
    status = "success"
    duration_ms = 2000

    class Meta:
        model = ExecutionResult
