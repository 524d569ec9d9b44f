import factory
from django.contrib.auth import get_user_model

from events.models import SystemEvent
from scheduling.models import Agent, ExecutionResult, Project, ScheduledTask


class UserFactory(factory.django.DjangoModelFactory):
    username = factory.Sequence(lambda n: f"user{n}")

    class Meta:
        model = get_user_model()


class SystemEventFactory(factory.django.DjangoModelFactory):
    event_type = "deployment"
    severity = "info"
    message = factory.Sequence(lambda n: f"event {n}")

    class Meta:
        model = SystemEvent


class ProjectFactory(factory.django.DjangoModelFactory):
    name = factory.Sequence(lambda n: f"project {n}")
    user = factory.SubFactory(UserFactory)

    class Meta:
        model = Project


class ScheduledTaskFactory(factory.django.DjangoModelFactory):
    skill_name = "backup"
    schedule_cron = "0 2 * * *"
    user = factory.SubFactory(UserFactory)

    class Meta:
        model = ScheduledTask


class AgentFactory(factory.django.DjangoModelFactory):
    name = factory.Sequence(lambda n: f"agent-{n}")
    type = "coder"

    class Meta:
        model = Agent


class ExecutionResultFactory(factory.django.DjangoModelFactory):
    task = factory.SubFactory(ScheduledTaskFactory)

    class Meta:
        model = ExecutionResult
