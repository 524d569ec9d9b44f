import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from audit.models import AuditCheckpoint
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


class AuditCheckpointFactory(factory.django.DjangoModelFactory):
    """A checkpoint row as the API lists one, unsigned: verification would refuse it."""

    sequence = factory.Sequence(lambda n: n + 1)
    kind = "seal"
    first_xid = last_xid = 0
    first_record_id = last_record_id = record_count = 1
    head_hash = previous_hash = "0" * 64
    newest_record_at = created_at = factory.LazyFunction(timezone.now)
    key_id = "0" * 16
    signature = ""

    class Meta:
        model = AuditCheckpoint
