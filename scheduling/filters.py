"""django-filter FilterSets of the scheduling list endpoints (user_id, status, type, foreign
keys, names and time ranges)."""

from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from brain.api.filters import ChoiceFilter, IntegerField, UtcIsoDateTimeFilter

from .agent_types import agent_types
from .models import (
    EXECUTION_RUNNING,
    Agent,
    AgentStatus,
    ExecutionResult,
    ExecutionStatus,
    Project,
    ScheduledTask,
    TaskStatus,
)
from .selectors import agent_list_named


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(filters.NumberFilter):
    """An integer id (NumberFilter would accept 1.5)."""

    field_class = IntegerField


class ProjectFilter(filters.FilterSet):
    user_id = IdFilter(field_name="user_id")
    name = filters.CharFilter(field_name="name", lookup_expr="icontains")
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lte")

    class Meta:
        model = Project
        fields = ["user_id", "name", "created_after", "created_before"]


class ScheduledTaskFilter(filters.FilterSet):
    user_id = IdFilter(field_name="user_id")
    project_id = IdFilter(field_name="project_id")
    status = ChoiceFilter(choices=TaskStatus.choices)
    skill_name = filters.CharFilter(field_name="skill_name")
    next_run_after = UtcIsoDateTimeFilter(field_name="next_run_at", lookup_expr="gte")
    next_run_before = UtcIsoDateTimeFilter(field_name="next_run_at", lookup_expr="lte")

    class Meta:
        model = ScheduledTask
        fields = [
            "user_id",
            "project_id",
            "status",
            "skill_name",
            "next_run_after",
            "next_run_before",
        ]


class AgentFilter(filters.FilterSet):
    name = filters.CharFilter(method="by_name", help_text="The agent's name, whatever the case.")
    type = ChoiceFilter(
        choices=lambda: [(name, name) for name in agent_types()],
        help_text="An agent type: a built-in role (coder, reviewer, ...) or one BRAIN_AGENT_TYPES "
        "adds.",
    )
    status = ChoiceFilter(choices=AgentStatus.choices)
    active_after = UtcIsoDateTimeFilter(field_name="last_active_at", lookup_expr="gte")
    active_before = UtcIsoDateTimeFilter(field_name="last_active_at", lookup_expr="lte")

    class Meta:
        model = Agent
        fields = ["name", "type", "status", "active_after", "active_before"]

    def by_name(self, queryset, name, value):
        return agent_list_named(name=value, queryset=queryset)


class ExecutionResultFilter(filters.FilterSet):
    task_id = IdFilter(field_name="task_id")
    status = ChoiceFilter(
        choices=[*ExecutionStatus.choices, (EXECUTION_RUNNING, "Running")],
        method="by_status",
        help_text="A final status, or running: no final status yet.",
    )
    started_after = UtcIsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = UtcIsoDateTimeFilter(field_name="started_at", lookup_expr="lte")

    class Meta:
        model = ExecutionResult
        fields = ["task_id", "status", "started_after", "started_before"]

    def by_status(self, queryset, name, value):
        if value == EXECUTION_RUNNING:
            return queryset.filter(status__isnull=True)
        return queryset.filter(status=value)
