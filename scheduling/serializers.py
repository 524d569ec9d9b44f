"""Validation and representation of the scheduling API. Writes happen in the services.

Foreign keys appear as `project_id` and `task_id`; `user_id` is read-only (it comes from the
authenticated user), and a body that sets it is refused (brain.api.strict). A project or task the
user may not see is answered exactly as one that does not exist.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from brain.api import serializers as api_serializers
from brain.api.strict import StrictInputMixin

from .models import (
    EXECUTION_RUNNING,
    EXECUTION_TEXT_MAX_LENGTH,
    Agent,
    AgentStatus,
    ExecutionResult,
    ExecutionStatus,
    Project,
    ScheduledTask,
    TaskStatus,
)
from .selectors import project_list, task_list
from .services import TASK_RUNNING_REFUSED
from .validators import validate_storable_text


class ModelSerializer(StrictInputMixin, api_serializers.ModelSerializer):
    """The model's text fields carry validate_storable_text for writers outside the API. DRF's
    CharField refuses NUL and surrogate characters itself, so the API drops the model's copy
    there and reports each problem once."""

    def build_standard_field(self, field_name, model_field):
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        if issubclass(field_class, serializers.CharField) and "validators" in kwargs:
            kwargs["validators"] = [
                validator
                for validator in kwargs["validators"]
                if validator is not validate_storable_text
            ]
        return field_class, kwargs


class ProjectSerializer(ModelSerializer):
    """A project: a named group of its owner's scheduled tasks."""

    user_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = Project
        fields = ["id", "name", "description", "created_at", "updated_at", "tasks_count", "user_id"]
        read_only_fields = ["created_at", "updated_at", "tasks_count"]


class _VisiblePrimaryKeyField(api_serializers.PrimaryKeyRelatedField):
    """A primary key among the rows the requesting user may see (`selector(user=...)`)."""

    def __init__(self, *, selector, **kwargs):
        self.selector = selector
        super().__init__(**kwargs)

    def get_queryset(self):
        return self.selector(user=self.context["request"].user)


class ScheduledTaskSerializer(ModelSerializer):
    """A scheduled task: a skill run with its parameters on a cron schedule, for its owner."""

    project_id = _VisiblePrimaryKeyField(
        selector=project_list, source="project", allow_null=True, required=False
    )
    user_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = ScheduledTask
        fields = [
            "id",
            "skill_name",
            "schedule_cron",
            "timezone",
            "next_run_at",
            "params_json",
            "status",
            "timeout_seconds",
            "project_id",
            "user_id",
            "claimed_by",
            "lease_expires_at",
            "created_at",
            "updated_at",
        ]
        # The lease is the scheduler's; so is `running` (validate_status).
        read_only_fields = ["claimed_by", "lease_expires_at", "created_at", "updated_at"]
        extra_kwargs = {
            "status": {
                "help_text": (
                    "pending, disabled, completed or failed; running is the scheduler's (POST "
                    "/api/tasks/{id}/run). Set while the task runs, it takes effect when the run "
                    "ends."
                )
            }
        }

    def validate_status(self, value):
        if value == TaskStatus.RUNNING:
            raise serializers.ValidationError(TASK_RUNNING_REFUSED)
        return value

    def validate_project_id(self, project):
        # A staff user may see another user's project, but a task only joins its owner's projects.
        owner_id = self.instance.user_id if self.instance else self.context["request"].user.pk
        if project is not None and project.user_id != owner_id:
            raise serializers.ValidationError("The project belongs to another user.")
        return project


class AgentSerializer(ModelSerializer):
    """An agent: a worker of a given type that reports its status by heartbeats."""

    class Meta:
        model = Agent
        fields = ["id", "name", "type", "capabilities_json", "status", "last_active_at"]
        read_only_fields = ["last_active_at"]
        extra_kwargs = {
            "type": {"help_text": "One of the registered agent types (GET /api/agents/types)."},
        }


class AgentTypesSerializer(serializers.Serializer):
    types = serializers.ListField(child=serializers.CharField())


class AgentHeartbeatSerializer(StrictInputMixin, serializers.Serializer):
    status = serializers.ChoiceField(choices=AgentStatus.choices, required=False)


class ExecutionResultSerializer(ModelSerializer):
    """One run of a scheduled task: its status, times, output and error."""

    task_id = _VisiblePrimaryKeyField(selector=task_list, source="task")
    # "running" (stored as NULL) while the run is going on, as ?status=running finds it; once
    # final, it stays one of the four (the service refuses to clear it).
    status = serializers.ChoiceField(
        choices=[*ExecutionStatus.choices, (EXECUTION_RUNNING, "Running")],
        allow_null=True,
        required=False,
        help_text="running until the run is complete, then its final status; null means running.",
    )

    class Meta:
        model = ExecutionResult
        fields = [
            "id",
            "task_id",
            "scheduled_for",
            "started_at",
            "ended_at",
            "status",
            "output_text",
            "error_text",
            "duration_ms",
            "worker",
        ]
        extra_kwargs = {
            "duration_ms": {"min_value": 0},
            "started_at": {"required": False},
        }
        # execution_create/update check the (task, scheduled_for) slot, with a field message.
        validators = []

    def validate_status(self, value):
        return None if value == EXECUTION_RUNNING else value

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if data["status"] is None:
            data["status"] = EXECUTION_RUNNING
        return data

    def validate(self, attrs):
        def current(name):
            if name in attrs:
                return attrs[name]
            return getattr(self.instance, name) if self.instance else None

        started_at, ended_at = current("started_at"), current("ended_at")
        if started_at and ended_at and ended_at < started_at:
            raise serializers.ValidationError({"ended_at": "ended_at cannot be before started_at."})
        return attrs


class ExecutionCompleteSerializer(StrictInputMixin, serializers.Serializer):
    status = serializers.ChoiceField(choices=ExecutionStatus.choices)
    output_text = serializers.CharField(
        required=False, allow_blank=True, max_length=EXECUTION_TEXT_MAX_LENGTH
    )
    error_text = serializers.CharField(
        required=False, allow_blank=True, max_length=EXECUTION_TEXT_MAX_LENGTH
    )
    ended_at = api_serializers.DateTimeField(required=False, help_text="Defaults to now.")


# A time in a query string is refused as the list filters refuse one (django-filter's words).
INVALID_TIME = {"invalid": "Enter a valid date/time."}


class ExecutionStatsQuerySerializer(serializers.Serializer):
    task_id = serializers.IntegerField(required=False, min_value=1)
    started_after = api_serializers.DateTimeField(required=False, error_messages=INVALID_TIME)
    started_before = api_serializers.DateTimeField(required=False, error_messages=INVALID_TIME)


class ExecutionStatsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    success = serializers.IntegerField()
    failed = serializers.IntegerField()
    timeout = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    running = serializers.IntegerField(help_text="Started, not complete yet.")
    success_rate = serializers.FloatField(
        allow_null=True, help_text="success / completed; null before any execution completes."
    )
    avg_duration_ms = serializers.FloatField(allow_null=True)
    p95_duration_ms = serializers.FloatField(allow_null=True)


@extend_schema_field(OpenApiTypes.NUMBER)
class _NumberField(serializers.JSONField):
    """A number shown as it is declared: an integer stays one."""


class SkillParameterSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()
    required = serializers.BooleanField()
    default = serializers.JSONField(allow_null=True)
    description = serializers.CharField()
    minimum = _NumberField(allow_null=True, help_text="The smallest value taken; null: none.")
    maximum = _NumberField(allow_null=True, help_text="The largest value taken; null: none.")


class SkillSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    parameters = SkillParameterSerializer(many=True, source="parameter_list")


class NoBodySerializer(StrictInputMixin, serializers.Serializer):
    """The body of an action that takes none: empty, or an empty object."""


class TaskStateSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScheduledTask
        fields = ["id", "skill_name", "status", "next_run_at", "timezone", "claimed_by"]
        read_only_fields = fields
