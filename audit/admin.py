"""The audit log in the admin: read-only for everyone, superusers included. Each record shows
its actor by username, the changed row with a link to it while it exists, a one-line summary
of the change and a link to every record of the same request."""

import json
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    DateField,
    Exists,
    OuterRef,
    Q,
    Value,
    When,
)
from django.db.models.functions import Cast
from django.http import Http404, HttpResponseRedirect
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import ngettext

from brain.admin_lists import ConsoleListMixin

from .changes import REDACTED
from .models import NUMERIC_ID, AuditLog, Operation
from .registry import audited_models, audited_tables
from .selectors import audit_system_actors
from .verification import audit_verification_latest

ACTORS_LISTED = 100
SUMMARY_VALUE_LENGTH = 20
SUMMARY_LENGTH = 100


def audit_trail_url(obj):
    """The admin changelist of `obj`'s audit records."""
    query = urlencode({"table_name": obj._meta.db_table, "record_id": str(obj.pk)})
    return f"{reverse('admin:audit_auditlog_changelist')}?{query}"


def change_summary(record):
    """One line saying what a record changed: `severity: info → error; message changed` for an
    update (values longer than SUMMARY_VALUE_LENGTH, structured values and secrets are only said
    to have changed; past SUMMARY_LENGTH characters the other fields are counted), `created` or
    `deleted` with the number of fields for the others. An update names the fields in the order
    of _summarized."""
    count = len(record.changed_fields)
    if record.operation == Operation.CREATE:
        return ngettext("created (%d field)", "created (%d fields)", count) % count
    if record.operation == Operation.DELETE:
        return ngettext("deleted (%d field)", "deleted (%d fields)", count) % count
    parts = []
    for name, change in _summarized(record):
        old, new = _short(change, "old"), _short(change, "new")
        parts.append(f"{name} changed" if old is None or new is None else f"{name}: {old} → {new}")
    shown = []
    for part in parts:
        if shown and len("; ".join([*shown, part])) > SUMMARY_LENGTH:
            return "; ".join(shown) + f"; {len(parts) - len(shown)} more changed"
        shown.append(part)
    return "; ".join(shown) or "no field changed"


def _summarized(record):
    """An update's changed fields as the summary names them: in the order their model declares
    them, dates and times last (a task's `next_run_at` follows the schedule a person changed),
    then fields the model no longer has, by name. `auto_now` fields (`updated_at`), which move
    with every save, are left out."""
    model = audited_models().get(record.table_name)
    fields = [field for field in model._meta.get_fields() if field.concrete] if model else []
    position = {field.attname: index for index, field in enumerate(fields)}
    dates = {field.attname for field in fields if isinstance(field, DateField)}
    every_save = {field.attname for field in fields if getattr(field, "auto_now", False)}
    return sorted(
        (item for item in record.changed_fields.items() if item[0] not in every_save),
        key=lambda item: (
            item[0] not in position,
            item[0] in dates,
            position.get(item[0]),
            item[0],
        ),
    )


def _short(change, side):
    """One side of a change as the summary shows it, or None when it is only said to change."""
    if not isinstance(change, dict) or side not in change:
        return None
    value = change[side]
    if value is None:
        return "∅"
    if value == "":
        return '""'
    if isinstance(value, (dict, list)) or value == REDACTED:
        return None
    text = str(value)
    return text if len(text) <= SUMMARY_VALUE_LENGTH and "\n" not in text else None


class AuditTrailLinkMixin:
    """For the ModelAdmin of an audited model: a read-only "Audit trail" field on the change page
    linking to the object's audit records, and the admin's "History" button opening the same
    trail. Inherit it before ModelAdmin; nothing else to set."""

    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404(f"No {self.opts.verbose_name} with id {object_id!r}.")
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        return HttpResponseRedirect(audit_trail_url(obj))

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


class ActorFilter(admin.SimpleListFilter):
    """The actor: the system actors that wrote records (`system:scheduler`, `system:import`),
    then the first ACTORS_LISTED users by username. Neither is a scan of the log."""

    title = "actor"
    parameter_name = "user_id"

    def lookups(self, request, model_admin):
        systems = audit_system_actors(limit=ACTORS_LISTED)
        users = get_user_model().objects.order_by("username")[:ACTORS_LISTED]
        return [(actor, actor) for actor in systems] + [
            (str(user.pk), user.username) for user in users
        ]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(user_id=self.value())
        return queryset


@admin.register(AuditLog)
class AuditLogAdmin(ConsoleListMixin, admin.ModelAdmin):
    # No operation column: the change says it ("created (7 fields)", "status: a → b"), the
    # filter selects it, and the list keeps to the width beside the admin's two sidebars.
    list_display = (
        "timestamp",
        "record",
        "actor",
        "summary",
        "request",
    )
    list_display_links = ("timestamp",)
    list_filter = (("timestamp", admin.DateFieldListFilter), "operation", TableFilter, ActorFilter)
    # Exact matches on indexed columns (get_search_results): never a scan of changed_fields.
    search_fields = ("record_id", "user_id")
    search_help_text = "Exact record id, user id, username or request id."
    ordering = ("-timestamp", "-id")
    fields = (
        "changes",
        "summary",
        "timestamp",
        "operation",
        "table_name",
        "record",
        "actor",
        "ip_address",
        "user_agent",
        "request",
    )
    readonly_fields = fields

    class Media:
        css = {"all": ["audit/admin.css"]}

    def get_queryset(self, request):
        """Records with their actor's username and whether their row still exists, each a
        primary-key probe per record of the page, in the page's one query (ConsolePaginator
        computes them for the page's records only)."""
        exists = [
            When(
                table_name=table,
                record_id__regex=NUMERIC_ID,
                then=Exists(
                    model.objects.filter(pk=Cast(OuterRef("record_id"), BigIntegerField()))
                ),
            )
            for table, model in audited_models().items()
        ]
        return (
            super()
            .get_queryset(request)
            .with_actor_username()
            .annotate(
                record_exists=Case(*exists, default=Value(False), output_field=BooleanField()),
            )
        )

    def changelist_view(self, request, extra_context=None):
        """The list, under the latest verification's outcome."""
        context = {**(extra_context or {}), "verification": audit_verification_latest()}
        return super().changelist_view(request, context)

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
        user_ids = [
            str(pk)
            for pk in get_user_model().objects.filter(username=term).values_list("pk", flat=True)
        ]
        return queryset.filter(
            Q(record_id=term) | Q(user_id=term) | Q(user_id__in=user_ids) | Q(request_id=term)
        ), False

    @admin.display(description="Record", ordering="record_id")
    def record(self, obj):
        label = f"{obj.table_name} #{obj.record_id}"
        model = audited_models().get(obj.table_name)
        if model is None or not obj.record_exists:
            return label
        try:
            url = reverse(
                f"admin:{model._meta.app_label}_{model._meta.model_name}_change",
                args=[obj.record_id],
            )
        except NoReverseMatch:
            return label
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.display(description="Actor", ordering="user_id")
    def actor(self, obj):
        if obj.actor_username:
            return obj.actor_username
        if obj.user_id and obj.user_id.isdigit():
            return f"user #{obj.user_id} (deleted)"
        return obj.user_id or "-"

    @admin.display(description="Change")
    def summary(self, obj):
        return change_summary(obj)

    @admin.display(description="Request", ordering="request_id")
    def request(self, obj):
        if not obj.request_id:
            return "-"
        url = reverse("admin:audit_auditlog_changelist")
        return format_html(
            '<a href="{}?{}" title="Every record of this request">{}</a>',
            url,
            urlencode({"request_id": obj.request_id}),
            obj.request_id[:8],
        )

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
