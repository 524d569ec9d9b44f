import json

from django import forms
from django.contrib import admin
from django.db import connection
from django.db.models import JSONField

from audit.admin import AuditTrailLinkMixin
from brain import forms as brain_forms
from brain.api.pagination import EstimatedCountPaginator

from .models import SystemEvent
from .services import event_create, event_delete, event_update

# A free-text column can hold many values; the sidebar lists the first ones alphabetically.
FILTER_CHOICES_LIMIT = 200
CREATE_FIELDS = ["event_type", "severity", "message", "details", "source", "timestamp"]


class DistinctValuesFilter(admin.SimpleListFilter):
    """A sidebar filter listing a column's values by a loose index scan (one index probe per
    distinct value), instead of the SELECT DISTINCT over every row that Django's
    AllValuesFieldListFilter runs."""

    column = ""

    def lookups(self, request, model_admin):
        sql = f"""
            WITH RECURSIVE found AS (
                SELECT min({self.column}) AS value FROM system_events
                UNION ALL
                SELECT (
                    SELECT min({self.column}) FROM system_events WHERE {self.column} > found.value
                )
                FROM found WHERE found.value IS NOT NULL
            )
            SELECT value FROM found WHERE value IS NOT NULL LIMIT %s
        """
        with connection.cursor() as cursor:
            cursor.execute(sql, [FILTER_CHOICES_LIMIT])
            return [(value, value) for (value,) in cursor.fetchall()]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return queryset.filter(**{self.parameter_name: self.value()})


class EventTypeFilter(DistinctValuesFilter):
    title = "event type"
    parameter_name = column = "event_type"


class SourceFilter(DistinctValuesFilter):
    title = "source"
    parameter_name = column = "source"


class PrettyJSONFormField(brain_forms.JSONField):
    """Shows JSON indented, keys sorted."""

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


@admin.register(SystemEvent)
class SystemEventAdmin(AuditTrailLinkMixin, admin.ModelAdmin):
    """Events admin, fast on millions of rows: estimated counts, no full COUNT for the result
    total, sidebar filters by index probes. Writes go through events.services."""

    list_display = ["id", "timestamp", "event_type", "severity", "source", "short_message"]
    list_filter = ["severity", EventTypeFilter, SourceFilter]
    search_fields = ["message"]
    date_hierarchy = "timestamp"
    readonly_fields = ["created_at"]
    fields = ["event_type", "severity", "message", "details", "source", "timestamp", "created_at"]
    formfield_overrides = {JSONField: {"form_class": PrettyJSONFormField}}
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50

    @admin.display(description="message")
    def short_message(self, event):
        return event.message if len(event.message) <= 80 else event.message[:79] + "…"

    def save_model(self, request, obj, form, change):
        if change:
            data = {name: form.cleaned_data[name] for name in form.changed_data}
            event_update(event=obj, data=data)
            return
        created = event_create(**{name: form.cleaned_data[name] for name in CREATE_FIELDS})
        # The admin goes on with the instance it built (log entry, redirect): give it the row.
        obj.pk, obj.created_at, obj._state = created.pk, created.created_at, created._state

    def delete_model(self, request, obj):
        event_delete(event=obj)
