from datetime import UTC

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField

from .models import Severity, SystemEvent


class UTCIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date/time, converted to UTC: PostgreSQL refuses offsets beyond ±15:59 that
    ISO 8601 parsers accept."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


class UTCIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCIsoDateTimeField


class TypeEventFilter(django_filters.FilterSet):
    """Filters of a type's list (`/api/events/type/{type}`): one or several severities
    (`?severity=error&severity=critical`), source, a time range (inclusive) and a search in the
    message (case-insensitive substring)."""

    # No joins, so no duplicates: django-filter's default DISTINCT would defeat the indexes.
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices, distinct=False)
    source = django_filters.CharFilter()
    timestamp_after = UTCIsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    timestamp_before = UTCIsoDateTimeFilter(field_name="timestamp", lookup_expr="lte")
    search = django_filters.CharFilter(field_name="message", lookup_expr="icontains")

    class Meta:
        model = SystemEvent
        fields = ["severity", "source", "timestamp_after", "timestamp_before", "search"]


class EventFilter(TypeEventFilter):
    """Filters of the event list and the stats: the type's list filters plus the type."""

    event_type = django_filters.CharFilter()

    class Meta(TypeEventFilter.Meta):
        fields = ["event_type", *TypeEventFilter.Meta.fields]
