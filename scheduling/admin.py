"""Admin of the scheduling models. Saves and deletes go through the services, so the admin keeps
tasks_count exact and meets the same validation as the API (the model forms run full_clean())."""

from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from audit.admin import AuditTrailLinkMixin
from brain import forms as brain_forms

from . import services
from .agent_types import agent_types
from .models import AGENT_NAME_TAKEN, Agent, ExecutionResult, Project, ScheduledTask
from .selectors import agents_named

INLINE_EXECUTIONS = 20


def _adopt(obj, saved):
    """Copies what a service saved onto the admin's instance (the admin logs and redirects with
    it)."""
    for field in saved._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding = False
    obj._state.db = saved._state.db


def _changes(form):
    return {name: form.cleaned_data[name] for name in form.changed_data}


class ServiceAdmin(AuditTrailLinkMixin, admin.ModelAdmin):
    """A ModelAdmin whose writes call the subclass's `create(form)`, `update(fresh_instance,
    changes)` and `delete(instance)`, each a service call. An update gets a fresh copy from the
    database, so the service sees what changed (a new cron, another project) rather than the
    form's already-edited instance. The change page links to the row's audit trail."""

    # Fields that are set on creation and never change afterwards (the owner of a row).
    fixed_after_creation = []
    formfield_overrides = {models.JSONField: {"form_class": brain_forms.JSONField}}

    def save_model(self, request, obj, form, change):
        if change:
            saved = self.update(self.model.objects.get(pk=obj.pk), _changes(form))
        else:
            saved = self.create(form)
        _adopt(obj, saved)

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        return [*readonly, *self.fixed_after_creation] if obj else readonly

    def delete_model(self, request, obj):
        self.delete(obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete(obj)


@admin.register(Project)
class ProjectAdmin(ServiceAdmin):
    list_display = ["name", "user", "tasks_count", "created_at", "updated_at"]
    list_filter = ["created_at"]
    search_fields = ["name", "description", "user__username"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    readonly_fields = ["tasks_count", "created_at", "updated_at"]
    fixed_after_creation = ["user"]
    fields = ["name", "description", "user", "tasks_count", "created_at", "updated_at"]

    def create(self, form):
        data = form.cleaned_data
        return services.project_create(
            user=data["user"], name=data["name"], description=data["description"]
        )

    def update(self, instance, changes):
        return services.project_update(project=instance, data=changes)

    def delete(self, instance):
        services.project_delete(project=instance)


class ExecutionResultInline(admin.TabularInline):
    """The latest executions of a task, read-only (the scheduler writes them)."""

    model = ExecutionResult
    fields = ["started_at", "ended_at", "status", "duration_ms", "worker", "error_text"]
    readonly_fields = fields
    ordering = ["-started_at", "-id"]
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = f"Latest {INLINE_EXECUTIONS} executions"

    def get_queryset(self, request):
        # Inline formsets cannot take a sliced queryset: keep the rows among their task's latest.
        latest_of_same_task = ExecutionResult.objects.filter(task=OuterRef("task")).order_by(
            "-started_at", "-id"
        )
        return (
            super()
            .get_queryset(request)
            .filter(pk__in=Subquery(latest_of_same_task.values("pk")[:INLINE_EXECUTIONS]))
        )

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ScheduledTaskAdminForm(forms.ModelForm):
    """Any status but running may be chosen: running is the scheduler's, as in the API. A task
    shown running may be saved with its status left as it is."""

    class Meta:
        model = ScheduledTask
        fields = [
            "skill_name",
            "schedule_cron",
            "timezone",
            "next_run_at",
            "params_json",
            "status",
            "timeout_seconds",
            "user",
            "project",
        ]

    def clean_status(self):
        status = self.cleaned_data["status"]
        if "status" in self.changed_data and status not in services.TASK_SETTABLE_STATUSES:
            raise forms.ValidationError(
                "running is set by the scheduler when it runs the task: use the Run now action."
            )
        return status


@admin.register(ScheduledTask)
class ScheduledTaskAdmin(ServiceAdmin):
    form = ScheduledTaskAdminForm
    list_display = [
        "id",
        "skill_name",
        "schedule_cron",
        "timezone",
        "next_run_local",
        "status",
        "project",
        "user",
    ]
    list_filter = ["status", "skill_name", "timezone"]
    search_fields = ["skill_name", "project__name", "user__username"]
    date_hierarchy = "next_run_at"
    list_select_related = ["project", "user"]
    # The lease is the scheduler's.
    readonly_fields = [
        "next_run_local",
        "claimed_by",
        "lease_expires_at",
        "created_at",
        "updated_at",
        "all_executions",
    ]
    fields = [
        "skill_name",
        "schedule_cron",
        "timezone",
        "next_run_at",
        "next_run_local",
        "params_json",
        "status",
        "timeout_seconds",
        "user",
        "project",
        "claimed_by",
        "lease_expires_at",
        "created_at",
        "updated_at",
        "all_executions",
    ]
    inlines = [ExecutionResultInline]
    fixed_after_creation = ["user"]
    actions = ["run_now", "disable", "enable"]

    @admin.display(description="Next run (task's time zone)", ordering="next_run_at")
    def next_run_local(self, task):
        if task.next_run_at is None:
            return "-"
        return task.next_run_at.astimezone(ZoneInfo(task.timezone)).strftime("%Y-%m-%d %H:%M %Z")

    @admin.display(description="Executions")
    def all_executions(self, task):
        url = reverse("admin:scheduling_executionresult_changelist")
        return format_html('<a href="{}?task__id__exact={}">All executions</a>', url, task.pk)

    def _apply(self, request, queryset, action, done):
        """Calls the scheduler's service `action(task)` on each selected task (each in its own
        transaction, audited as the admin user) and reports what was done and what the task's
        state refused."""
        changed = 0
        for task in queryset.order_by("pk"):
            try:
                action(task)
            except services.TaskStateError as error:
                self.message_user(request, f"Task {task.pk}: {error}", messages.WARNING)
            else:
                changed += 1
        if changed:
            self.message_user(request, f"{changed} task(s) {done}.", messages.SUCCESS)

    @admin.action(description="Run now", permissions=["change"])
    def run_now(self, request, queryset):
        moment = timezone.now()
        self._apply(
            request, queryset, lambda task: services.task_run_now(task=task, now=moment), "queued"
        )

    @admin.action(description="Disable", permissions=["change"])
    def disable(self, request, queryset):
        self._apply(request, queryset, lambda task: services.task_disable(task=task), "disabled")

    @admin.action(description="Enable", permissions=["change"])
    def enable(self, request, queryset):
        moment = timezone.now()
        self._apply(
            request, queryset, lambda task: services.task_enable(task=task, now=moment), "enabled"
        )

    def create(self, form):
        return services.task_create(**form.cleaned_data)

    def update(self, instance, changes):
        return services.task_update(task=instance, data=changes)

    def delete(self, instance):
        services.task_delete(task=instance)


class AgentAdminForm(forms.ModelForm):
    type = forms.ChoiceField(choices=())

    class Meta:
        model = Agent
        fields = ["name", "type", "capabilities_json", "status"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Read at form time: BRAIN_AGENT_TYPES may extend the registry.
        self.fields["type"].choices = [(name, name) for name in agent_types()]

    def clean_name(self):
        # As the API reports it: on `name` (model validation has no field for an expression).
        name = self.cleaned_data["name"]
        if agents_named(name).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(AGENT_NAME_TAKEN, code="unique")
        return name


@admin.register(Agent)
class AgentAdmin(ServiceAdmin):
    form = AgentAdminForm
    list_display = ["name", "type", "status", "last_active_at", "since_last_active"]
    list_filter = ["type", "status"]
    search_fields = ["name"]
    date_hierarchy = "last_active_at"
    readonly_fields = ["last_active_at"]

    @admin.display(description="Since last activity", ordering="last_active_at")
    def since_last_active(self, agent):
        return f"{timesince(agent.last_active_at)} ago" if agent.last_active_at else "never"

    def create(self, form):
        return services.agent_create(**form.cleaned_data)

    def update(self, instance, changes):
        return services.agent_update(agent=instance, data=changes)

    def delete(self, instance):
        services.agent_delete(agent=instance)


@admin.register(ExecutionResult)
class ExecutionResultAdmin(ServiceAdmin):
    list_display = ["id", "task", "status", "started_at", "ended_at", "duration_ms", "worker"]
    list_filter = ["status", "task__skill_name"]
    search_fields = ["task__skill_name", "worker", "error_text"]
    date_hierarchy = "started_at"
    list_select_related = ["task"]
    raw_id_fields = ["task"]
    ordering = ["-started_at", "-id"]

    def create(self, form):
        return services.execution_create(**form.cleaned_data)

    def update(self, instance, changes):
        return services.execution_update(execution=instance, data=changes)

    def delete(self, instance):
        services.execution_delete(execution=instance)
