import django_filters

from .models import Event, Severity


class EventFilter(django_filters.FilterSet):
    """Brain's list filters: type, one or several severities, source, a time range and a
    case-insensitive search in the message."""

    # No join can duplicate a row: without distinct=False the page would sort every match.
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices, distinct=False)
    timestamp_after = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    timestamp_before = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="lte")
    search = django_filters.CharFilter(field_name="message", lookup_expr="icontains")

    class Meta:
        model = Event
        fields = ["event_type", "severity", "source", "timestamp_after", "timestamp_before"]
