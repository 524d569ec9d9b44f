"""Execution results in the admin: a read-only log, with the traceback of a skill that raised
(staff only: the API shows its owner the error's type and message)."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from audit.admin import AuditTrailLinkMixin
from brain import admin_display
from brain.admin_rows import DeletedRowMixin

from .. import services
from ..models import ExecutionResult
from .base import SHOWN_LENGTH, STATUS_COLOURS
from .tasks import task_label


@admin.register(ExecutionResult)
class ExecutionResultAdmin(DeletedRowMixin, AuditTrailLinkMixin, admin.ModelAdmin):
    """Execution results are a log the scheduler writes: read-only here (no add, no change),
    deletable with the permission, through the service."""

    list_display = [
        "id",
        "task_link",
        "status_badge",
        "started_at_shown",
        "ended_at_shown",
        "duration",
        "worker_shown",
    ]
    list_display_links = ["id"]
    list_filter = ["status", "task__skill_name"]
    search_fields = ["task__skill_name", "worker", "error_text"]
    date_hierarchy = "started_at"
    list_select_related = ["task"]
    # The admin adds -pk itself, for runs started at the same moment, without marking the ID
    # column as sorted.
    ordering = ["-started_at"]
    fields = [
        "task_link",
        "status_badge",
        "scheduled_for",
        "started_at",
        "ended_at",
        "duration_ms",
        "worker",
        "output",
        "error",
        "traceback",
    ]
    readonly_fields = fields

    class Media:
        css = {"all": ["scheduling/admin.css"]}

    @admin.display(description="Task", ordering="task")
    def task_link(self, execution):
        url = reverse("admin:scheduling_scheduledtask_change", args=[execution.task_id])
        return format_html('<a href="{}">{}</a>', url, task_label(execution.task))

    @admin.display(description="Started", ordering="started_at")
    def started_at_shown(self, execution):
        return admin_display.date_time(execution.started_at)

    @admin.display(description="Ended", ordering="ended_at")
    def ended_at_shown(self, execution):
        return admin_display.date_time(execution.ended_at)

    @admin.display(description="Duration", ordering="duration_ms")
    def duration(self, execution):
        return admin_display.duration(execution.duration_ms)

    @admin.display(description="Worker", ordering="worker")
    def worker_shown(self, execution):
        return admin_display.shortened(execution.worker, SHOWN_LENGTH)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, execution):
        return admin_display.badge(execution.status or "running", STATUS_COLOURS)

    @admin.display(description="Output")
    def output(self, execution):
        return admin_display.preformatted(execution.output_text)

    @admin.display(description="Error")
    def error(self, execution):
        return admin_display.preformatted(execution.error_text)

    @admin.display(description="Traceback")
    def traceback(self, execution):
        return admin_display.preformatted(execution.traceback_text)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        services.execution_delete(execution=obj)

    def delete_queryset(self, request, queryset):
        for execution in queryset:
            try:
                services.execution_delete(execution=execution)
            except ExecutionResult.DoesNotExist:
                pass  # deleted by another request since the page listed it: gone, as asked
