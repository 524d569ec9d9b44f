from datetime import UTC

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField

from .models import AuditLog, Operation


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, converted to UTC: PostgreSQL refuses offsets past ±15:59, which
    ISO 8601 allows. One that UTC cannot hold (year 1 at +14:00) is invalid input."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class AuditLogFilter(django_filters.FilterSet):
    """Exact matches on indexed columns, and a timestamp range (inclusive)."""

    table_name = django_filters.CharFilter()
    record_id = django_filters.CharFilter()
    user_id = django_filters.CharFilter()
    operation = django_filters.ChoiceFilter(choices=Operation.choices)
    timestamp_after = UtcIsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    timestamp_before = UtcIsoDateTimeFilter(field_name="timestamp", lookup_expr="lte")

    class Meta:
        model = AuditLog
        fields = []
