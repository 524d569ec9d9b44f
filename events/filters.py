import django_filters

from .models import Severity, SystemEvent


class TypeEventFilter(django_filters.FilterSet):
    """Filters of a type's list (`/api/events/type/{type}`): one or several severities
    (`?severity=error&severity=critical`), source, a time range (inclusive) and a search in the
    message (case-insensitive substring)."""

    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices)
    source = django_filters.CharFilter()
    timestamp_after = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    timestamp_before = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="lte")
    search = django_filters.CharFilter(field_name="message", lookup_expr="icontains")

    class Meta:
        model = SystemEvent
        fields = ["severity", "source", "timestamp_after", "timestamp_before", "search"]


class EventFilter(TypeEventFilter):
    """Filters of the event list and the stats: the type's list filters plus the type."""

    event_type = django_filters.CharFilter()

    class Meta(TypeEventFilter.Meta):
        fields = ["event_type", *TypeEventFilter.Meta.fields]
