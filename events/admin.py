from django.contrib import admin
from django.db import connection

from audit.admin import AuditTrailLinkMixin
from brain import admin_display
from brain.admin_lists import ConsoleListMixin
from brain.admin_rows import DeletedRowMixin

from .models import Severity, SystemEvent
from .services import event_delete

# Each severity's colour, in the order the dashboard stacks them (bottom first).
SEVERITY_COLOURS = {
    Severity.INFO: "#417690",
    Severity.WARNING: "#b36b00",
    Severity.ERROR: "#ba2121",
    Severity.CRITICAL: "#5c0a0a",
}
# The characters of a message the list shows.
MESSAGE_SHOWN_LENGTH = 80
# A free-text column can hold many values; the sidebar lists the first ones alphabetically.
FILTER_CHOICES_LIMIT = 200


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


@admin.register(SystemEvent)
class SystemEventAdmin(ConsoleListMixin, DeletedRowMixin, AuditTrailLinkMixin, admin.ModelAdmin):
    """Events are a log: read-only here (no add, no change), deletable with the permission,
    through events.services (one by one, also from "delete selected"). Fast on millions of rows:
    estimated counts, no full COUNT for the result total, sidebar filters by index probes, time
    narrowed by a date-range filter (no scan for the dates to offer), the message search served
    by its trigram index, pages up to ConsolePaginator's cap."""

    list_display = ["id", "timestamp", "event_type", "severity_badge", "source", "short_message"]
    list_display_links = ["id", "timestamp"]
    list_filter = [
        ("timestamp", admin.DateFieldListFilter),
        "severity",
        EventTypeFilter,
        SourceFilter,
    ]
    # icontains: UPPER(message) LIKE UPPER('%term%'), each word of the search, which the trigram
    # index on UPPER(message) serves (idx_system_events_message_trgm).
    search_fields = ["message"]
    fields = [
        "id",
        "timestamp",
        "event_type",
        "severity_badge",
        "source",
        "message_text",
        "details_text",
        "created_at",
    ]
    readonly_fields = fields
    list_per_page = 50

    @admin.display(description="severity", ordering="severity")
    def severity_badge(self, event):
        return admin_display.badge(event.severity, SEVERITY_COLOURS)

    @admin.display(description="message")
    def short_message(self, event):
        return admin_display.shortened(event.message, MESSAGE_SHOWN_LENGTH)

    @admin.display(description="message")
    def message_text(self, event):
        return admin_display.preformatted(event.message)

    @admin.display(description="details")
    def details_text(self, event):
        return admin_display.preformatted_json(event.details)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        event_delete(event=obj)

    def delete_queryset(self, request, queryset):
        # One service call per event: each is locked before it is deleted, so one that another
        # request deleted meanwhile is skipped rather than recorded as deleted twice.
        for event in queryset:
            try:
                event_delete(event=event)
            except SystemEvent.DoesNotExist:
                pass  # gone, as asked
