"""django-filter FilterSets of the scheduling list endpoints (the seed's filters: user_id,
status, type, plus foreign keys, names and time ranges)."""

from datetime import UTC

from django import forms
from django.core.exceptions import ValidationError
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from .models import (
    Agent,
    AgentStatus,
    ExecutionResult,
    ExecutionStatus,
    Project,
    ScheduledTask,
    TaskStatus,
)


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(filters.NumberFilter):
    """An integer id (NumberFilter would accept 1.5)."""

    field_class = forms.IntegerField


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, converted to UTC: PostgreSQL refuses UTC offsets beyond +-15:59,
    which ISO 8601 and Python accept."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError as error:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from error


class DateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class ProjectFilter(filters.FilterSet):
    user_id = IdFilter(field_name="user_id")
    name = filters.CharFilter(field_name="name", lookup_expr="icontains")
    created_after = DateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = DateTimeFilter(field_name="created_at", lookup_expr="lte")

    class Meta:
        model = Project
        fields = ["user_id", "name", "created_after", "created_before"]


class ScheduledTaskFilter(filters.FilterSet):
    user_id = IdFilter(field_name="user_id")
    project_id = IdFilter(field_name="project_id")
    status = filters.ChoiceFilter(choices=TaskStatus.choices)
    skill_name = filters.CharFilter(field_name="skill_name")
    next_run_after = DateTimeFilter(field_name="next_run_at", lookup_expr="gte")
    next_run_before = DateTimeFilter(field_name="next_run_at", lookup_expr="lte")

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
    name = filters.CharFilter(field_name="name")
    type = filters.CharFilter(field_name="type")
    status = filters.ChoiceFilter(choices=AgentStatus.choices)
    active_after = DateTimeFilter(field_name="last_active_at", lookup_expr="gte")
    active_before = DateTimeFilter(field_name="last_active_at", lookup_expr="lte")

    class Meta:
        model = Agent
        fields = ["name", "type", "status", "active_after", "active_before"]


class ExecutionResultFilter(filters.FilterSet):
    task_id = IdFilter(field_name="task_id")
    status = filters.ChoiceFilter(choices=ExecutionStatus.choices)
    started_after = DateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = DateTimeFilter(field_name="started_at", lookup_expr="lte")

    class Meta:
        model = ExecutionResult
        fields = ["task_id", "status", "started_after", "started_before"]
