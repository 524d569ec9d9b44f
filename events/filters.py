import django_filters
from django_filters.utils import translate_validation

from brain.api.filters import MultipleChoiceFilter, UtcIsoDateTimeFilter

from .models import Severity, SystemEvent
from .selectors import event_list, event_list_by_severity, event_list_by_type


class TypeEventFilter(django_filters.FilterSet):
    """Filters of a type's list (`/api/events/type/{type}`): one or several severities
    (`?severity=error&severity=critical`), source, a time range (inclusive) and a search in the
    message (case-insensitive substring)."""

    severity = MultipleChoiceFilter(choices=Severity.choices, method="by_severity")
    source = django_filters.CharFilter()
    timestamp_after = UtcIsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    timestamp_before = UtcIsoDateTimeFilter(field_name="timestamp", lookup_expr="lte")
    search = django_filters.CharFilter(field_name="message", lookup_expr="icontains")

    class Meta:
        model = SystemEvent
        fields = ["severity", "source", "timestamp_after", "timestamp_before", "search"]

    def by_severity(self, queryset, name, value):
        return event_list_by_severity(severities=value, queryset=queryset)


class EventFilter(TypeEventFilter):
    """Filters of the event list and the stats: the type's list filters plus the type."""

    event_type = django_filters.CharFilter(method="by_type")

    class Meta(TypeEventFilter.Meta):
        fields = ["event_type", *TypeEventFilter.Meta.fields]

    def by_type(self, queryset, name, value):
        return event_list_by_type(event_type=value, queryset=queryset)


def _valid(filterset):
    """The bound `filterset`, valid; raises DRF's ValidationError (a 400 with field messages)."""
    if not filterset.is_valid():
        raise translate_validation(filterset.errors)
    return filterset


def clean_event_type(event_type):
    """A type given in the path (`/api/events/type/{type}`), validated as `?event_type=` is, by
    EventFilter (text PostgreSQL cannot store is refused with a 400, not a 500)."""
    filterset = _valid(EventFilter({"event_type": event_type}, queryset=SystemEvent.objects.none()))
    return filterset.form.cleaned_data["event_type"]


def filter_for_stats(params):
    """The events that the list's filters in `params` select, and the filters given as sorted
    (name, value) pairs of strings, which tell one statistics body from another. Without a query
    string (the hot path) no FilterSet is built. Raises DRF's ValidationError for bad filters."""
    if not params:
        return event_list(), []
    filterset = _valid(EventFilter(params, queryset=event_list()))
    given = sorted(
        (name, str(value)) for name, value in filterset.form.cleaned_data.items() if value
    )
    return filterset.qs, given
