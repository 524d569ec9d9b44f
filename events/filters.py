import django_filters

from brain.api.filters import UtcIsoDateTimeFilter

from .models import Severity, SystemEvent
from .selectors import events_by_severity, events_by_type


class TypeEventFilter(django_filters.FilterSet):
    """Filters of a type's list (`/api/events/type/{type}`): one or several severities
    (`?severity=error&severity=critical`), source, a time range (inclusive) and a search in the
    message (case-insensitive substring)."""

    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices, method="by_severity")
    source = django_filters.CharFilter()
    timestamp_after = UtcIsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    timestamp_before = UtcIsoDateTimeFilter(field_name="timestamp", lookup_expr="lte")
    search = django_filters.CharFilter(field_name="message", lookup_expr="icontains")

    class Meta:
        model = SystemEvent
        fields = ["severity", "source", "timestamp_after", "timestamp_before", "search"]

    def by_severity(self, queryset, name, value):
        return events_by_severity(severities=value, queryset=queryset)


class EventFilter(TypeEventFilter):
    """Filters of the event list and the stats: the type's list filters plus the type."""

    event_type = django_filters.CharFilter(method="by_type")

    class Meta(TypeEventFilter.Meta):
        fields = ["event_type", *TypeEventFilter.Meta.fields]

    def by_type(self, queryset, name, value):
        return events_by_type(event_type=value, queryset=queryset)
