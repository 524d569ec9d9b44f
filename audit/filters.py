import django_filters

from brain.api.filters import ChoiceFilter, UtcIsoDateTimeFilter

from .models import AuditLog, Operation


class AuditLogFilter(django_filters.FilterSet):
    """Exact matches on indexed columns, and a timestamp range (inclusive)."""

    table_name = django_filters.CharFilter()
    record_id = django_filters.CharFilter()
    user_id = django_filters.CharFilter()
    operation = ChoiceFilter(choices=Operation.choices)
    timestamp_after = UtcIsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    timestamp_before = UtcIsoDateTimeFilter(field_name="timestamp", lookup_expr="lte")

    class Meta:
        model = AuditLog
        fields = []
