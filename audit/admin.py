"""The audit log in the admin: read-only for everyone, superusers included."""

import json
from urllib.parse import urlencode

from django.contrib import admin
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from brain.api.pagination import EstimatedCountPaginator

from .models import AuditLog, Operation
from .registry import audited_tables


def audit_trail_url(obj):
    """The admin changelist of `obj`'s audit records."""
    query = urlencode({"table_name": obj._meta.db_table, "record_id": str(obj.pk)})
    return f"{reverse('admin:audit_auditlog_changelist')}?{query}"


class AuditTrailLinkMixin:
    """For the ModelAdmin of an audited model: a read-only "Audit trail" field on the change page
    linking to the object's audit records. Inherit it before ModelAdmin; nothing else to set."""

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "audit_trail"]

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        return fields if "audit_trail" in fields else [*fields, "audit_trail"]

    @admin.display(description="Audit trail")
    def audit_trail(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        return format_html('<a href="{}">Changes to this record</a>', audit_trail_url(obj))


class TableFilter(admin.SimpleListFilter):
    """The audited tables, from the registry: no DISTINCT scan of the log."""

    title = "table"
    parameter_name = "table_name"

    def lookups(self, request, model_admin):
        return [(table, table) for table in audited_tables()]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(table_name=self.value())
        return queryset


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ("timestamp", "operation", "table_name", "record_id", "user_id", "ip_address")
    list_filter = ("operation", TableFilter)
    # Exact matches on the indexed columns (get_search_results): never a scan of changed_fields.
    search_fields = ("record_id", "user_id")
    search_help_text = "Exact record id or user id."
    date_hierarchy = "timestamp"
    ordering = ("-timestamp", "-id")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    fields = (
        "timestamp",
        "operation",
        "table_name",
        "record_id",
        "user_id",
        "ip_address",
        "user_agent",
        "request_id",
        "changes",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(Q(record_id=term) | Q(user_id=term)), False

    @admin.display(description="Changed fields")
    def changes(self, obj):
        if obj.operation == Operation.UPDATE:
            header = mark_safe("<tr><th>Field</th><th>Old</th><th>New</th></tr>")
            rows = format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (name, _shown(change.get("old")), _shown(change.get("new")))
                    for name, change in sorted(obj.changed_fields.items())
                ),
            )
        else:
            title = "Value" if obj.operation == Operation.CREATE else "Last value"
            header = format_html("<tr><th>Field</th><th>{}</th></tr>", title)
            rows = format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td></tr>",
                ((name, _shown(value)) for name, value in sorted(obj.changed_fields.items())),
            )
        return format_html("<table>{}{}</table>", header, rows)


def _shown(value):
    if value is None:
        return "∅"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value
