"""Scheduled tasks in the admin: their runs annotated in the list's one query, the skill a
choice from the registry, the cron in words, and the scheduler's actions."""

from zoneinfo import ZoneInfo

from cron_descriptor import FormatException, MissingFieldException, Options, get_description
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, F, FloatField, OuterRef, Q, Subquery
from django.db.models.functions import Cast, NullIf
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from brain import admin_display

from .. import services
from ..models import ExecutionResult, ExecutionStatus, Project, ScheduledTask
from ..skills import all_skills
from .base import SHOWN_LENGTH, STATUS_COLOURS, ServiceAdmin

INLINE_EXECUTIONS = 20
# The characters of a cron the list shows (its words follow it in full).
CRON_SHOWN_LENGTH = 20


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


def task_label(task):
    """A task as the lists name it: its skill, which a narrow column breaks after a dot, and its
    id (`system.health_check #12`)."""
    return format_html(
        "{} #{}", admin_display.shortened(task.skill_name, SHOWN_LENGTH, break_after="."), task.pk
    )


def describe_cron(expression):
    """The cron in words ("At 03:30, only on Sunday"), by cron-descriptor; "" when it cannot."""
    options = Options()
    options.use_24hour_time_format = True
    try:
        return get_description(expression, options=options)
    except (FormatException, MissingFieldException, ValueError, IndexError):
        return ""


class ProjectChoiceField(forms.ModelChoiceField):
    """A project named with its owner: "Ops (alice)", since two owners may name theirs alike."""

    def label_from_instance(self, project):
        return f"{project.name} ({project.user.get_username()})"


class ScheduledTaskAdminForm(forms.ModelForm):
    """The skill is a choice from the registry. Any status but running may be chosen: running is
    the scheduler's, as in the API. A task shown running may be saved with its status left as it
    is. The project is named with its owner; an existing task, whose owner is fixed, is offered
    its owner's projects only (a new one's project is checked against the chosen owner by the
    model's validation)."""

    skill_name = forms.ChoiceField(label="Skill", choices=())

    class Meta:
        model = ScheduledTask
        field_classes = {"project": ProjectChoiceField}
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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Read at form time: skills register as their modules are imported.
        choices = [(skill.name, skill.name) for skill in all_skills()]
        current = self.initial.get("skill_name")
        if current and current not in dict(choices):
            # A task whose skill is gone keeps showing it; saving it again is refused.
            choices.append((current, f"{current} (not registered)"))
        self.fields["skill_name"].choices = [("", "---------"), *choices]
        if "project" in self.fields:
            projects = Project.objects.select_related("user").order_by(
                "name", "user__username", "pk"
            )
            if self.instance.pk is not None:
                owner = self.instance.user
                projects = projects.filter(user=owner)
                self.fields["project"].error_messages["invalid_choice"] = (
                    f"Choose one of the projects of the task's owner, {owner.get_username()}."
                )
            self.fields["project"].queryset = projects

    def clean_status(self):
        status = self.cleaned_data["status"]
        if "status" in self.changed_data and status not in services.TASK_SETTABLE_STATUSES:
            raise forms.ValidationError(
                "running is set by the scheduler when it runs the task: use the Run now action."
            )
        return status

    def clean(self):
        """The task's owner (the chosen user of a new task; the task's own, whoever edits it)
        must be allowed the skill, as the services check it (task_check_skill_allowed)."""
        cleaned = super().clean()
        adding = self.instance.pk is None
        owner = cleaned.get("user") if adding else self.instance.user
        if owner is not None and cleaned.get("skill_name"):
            try:
                services.task_check_skill_allowed(
                    owner=owner,
                    data=cleaned,
                    committed_skill_name=None if adding else self.instance.skill_name,
                    committed_status=None if adding else self.instance.status,
                )
            except ValidationError as error:
                self.add_error(None, error)
        return cleaned


@admin.register(ScheduledTask)
class ScheduledTaskAdmin(ServiceAdmin):
    form = ScheduledTaskAdminForm
    # Few and narrow columns, so that every one shows beside the admin's two sidebars: the task
    # named by its skill and id, as the executions list names it, the next run under the
    # schedule, the last run's status above its time, the owner above the task's project.
    list_display = [
        "task",
        "schedule",
        "status_badge",
        "last_run",
        "run_count",
        "success_rate_shown",
        "owner",
    ]
    list_display_links = ["task"]
    list_filter = ["status", "skill_name", "timezone"]
    search_fields = ["skill_name", "project__name", "user__username"]
    date_hierarchy = "next_run_at"
    list_select_related = ["project", "user"]
    # The lease is the scheduler's.
    readonly_fields = [
        "cron_description",
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
        "cron_description",
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

    def get_queryset(self, request):
        """Tasks with their last run, its status, their run count and success rate, annotated
        in the one query of the page (no query per row)."""
        latest = ExecutionResult.objects.filter(task=OuterRef("pk")).order_by("-started_at", "-id")
        finished = Count("executions", filter=Q(executions__ended_at__isnull=False))
        return (
            super()
            .get_queryset(request)
            .annotate(
                last_run_at=Subquery(latest.values("started_at")[:1]),
                last_status=Subquery(latest.values("status")[:1]),
                run_count=Count("executions"),
                success_rate=Cast(
                    Count("executions", filter=Q(executions__status=ExecutionStatus.SUCCESS)),
                    FloatField(),
                )
                / Cast(NullIf(finished, 0), FloatField()),
            )
        )

    @admin.display(description="Cron")
    def cron_description(self, task):
        return describe_cron(task.schedule_cron) or "-"

    @admin.display(description="Task", ordering="skill_name")
    def task(self, task):
        return task_label(task)

    @admin.display(description="Schedule", ordering="next_run_at")
    def schedule(self, task):
        return format_html(
            '<code class="cron">{}</code><br><small>{}</small><br><small>next {}</small>',
            admin_display.shortened(task.schedule_cron, CRON_SHOWN_LENGTH),
            describe_cron(task.schedule_cron),
            self.next_run_local(task),
        )

    @admin.display(description="Status", ordering="status")
    def status_badge(self, task):
        return admin_display.badge(task.status, STATUS_COLOURS)

    @admin.display(description="Last run", ordering=F("last_run_at").desc(nulls_last=True))
    def last_run(self, task):
        if task.last_run_at is None:
            return "never"
        return format_html(
            "{}<br>{}",
            admin_display.badge(task.last_status or "running", STATUS_COLOURS),
            admin_display.date_time(task.last_run_at),
        )

    @admin.display(description="Runs", ordering="run_count")
    def run_count(self, task):
        return task.run_count

    @admin.display(description="Success", ordering=F("success_rate").desc(nulls_last=True))
    def success_rate_shown(self, task):
        return "-" if task.success_rate is None else f"{task.success_rate:.0%}"

    @admin.display(description="Owner", ordering="user__username")
    def owner(self, task):
        owner = admin_display.shortened(task.user.get_username(), SHOWN_LENGTH)
        if task.project is None:
            return owner
        return format_html(
            "{}<br><small>{}</small>",
            owner,
            admin_display.shortened(task.project.name, SHOWN_LENGTH),
        )

    @admin.display(description="Next run (task's time zone)", ordering="next_run_at")
    def next_run_local(self, task):
        return admin_display.date_time(task.next_run_at, zone=ZoneInfo(task.timezone))

    @admin.display(description="Executions")
    def all_executions(self, task):
        url = reverse("admin:scheduling_executionresult_changelist")
        return format_html('<a href="{}?task__id__exact={}">All executions</a>', url, task.pk)

    def _apply(self, request, queryset, action, done):
        """Calls the scheduler's service `action(task)` on each selected task (each in its own
        transaction, audited as the admin user) and reports what was done and what the task's
        state or its owner's rights refused, or that a task was deleted meanwhile."""
        changed = 0
        for task in queryset.order_by("pk"):
            try:
                action(task)
            except (services.TaskStateError, PermissionDenied) as error:
                self.message_user(request, f"Task {task.pk}: {error}", messages.WARNING)
            except ScheduledTask.DoesNotExist:
                # Deleted by another request since the page listed it.
                self.message_user(
                    request, f"Task {task.pk}: it no longer exists.", messages.WARNING
                )
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
