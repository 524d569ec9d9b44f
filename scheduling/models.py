from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils.timezone import now

from audit.mixins import AuditedModel
from brain.validators import MAX_JSON_INTEGER

from .cron import validate_cron, validate_timezone
from .skills import get_skill, params_errors, validate_skill_name
from .validators import (
    task_max_timeout_seconds,
    validate_agent_type,
    validate_json_array,
    validate_json_object,
    validate_storable_text,
)

# The longest project description, and the longest output_text, error_text and traceback_text of
# an execution: longer ones are refused from clients (the API, the admin's forms); the scheduler
# records a longer skill output cut, saying so. The columns stay text: max_length binds
# validation only (DRF, forms, and the MaxLengthValidator that full_clean runs).
PROJECT_DESCRIPTION_MAX_LENGTH = 10_000
EXECUTION_TEXT_MAX_LENGTH = 100_000


class ShapedJSONField(models.JSONField):
    """A JSONField whose validators also see `{}` and `[]`: for a field that must be an object
    or an array, an empty one is a value of some shape, not a blank to skip."""

    empty_values = [None]


class Project(AuditedModel):
    """A user's project; tasks_count is the exact number of its tasks (table `projects`)."""

    name = models.CharField(max_length=200, validators=[validate_storable_text])
    description = models.TextField(
        blank=True,
        default="",
        max_length=PROJECT_DESCRIPTION_MAX_LENGTH,
        validators=[validate_storable_text, MaxLengthValidator(PROJECT_DESCRIPTION_MAX_LENGTH)],
    )
    created_at = models.DateTimeField(default=now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    tasks_count = models.PositiveIntegerField(default=0, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="projects"
    )

    class Meta:
        db_table = "projects"
        indexes = [
            models.Index(fields=["user", "created_at"], name="idx_projects_user_created"),
            models.Index(fields=["name", "user"], name="idx_projects_name_user"),
        ]

    def __str__(self):
        return self.name


class TaskStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    DISABLED = "disabled"


class ScheduledTask(AuditedModel):
    """A skill run on a cron schedule (table `scheduled_tasks`), with the scheduler's lease.
    The cron is read in `timezone`; next_run_at is stored in UTC."""

    skill_name = models.CharField(
        max_length=100, validators=[validate_storable_text, validate_skill_name]
    )
    schedule_cron = models.CharField(max_length=100, validators=[validate_cron])
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    params_json = ShapedJSONField(default=dict, blank=True, validators=[validate_json_object])
    status = models.CharField(
        max_length=20, choices=TaskStatus.choices, default=TaskStatus.PENDING, db_index=True
    )
    timeout_seconds = models.PositiveIntegerField(
        default=300,
        validators=[MinValueValidator(1), MaxValueValidator(task_max_timeout_seconds)],
        help_text=(
            "Seconds a run may take before it is recorded as timed out; at most the server's "
            "TASK_MAX_TIMEOUT_SECONDS."
        ),
    )
    project = models.ForeignKey(
        Project, on_delete=models.RESTRICT, null=True, blank=True, related_name="tasks"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scheduled_tasks"
    )
    # The scheduler's claim on a running task: which worker, and until when.
    claimed_by = models.CharField(
        max_length=100, blank=True, default="", validators=[validate_storable_text]
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    # The lease is the scheduler's bookkeeping, rewritten at every claim and release: the
    # status it moves with and the run's execution record say what happened.
    audit_exclude = ("claimed_by", "lease_expires_at")

    class Meta:
        db_table = "scheduled_tasks"
        indexes = [
            models.Index(fields=["user", "status"], name="idx_tasks_user_status"),
            models.Index(fields=["status", "next_run_at"], name="idx_tasks_status_next_run"),
            # The tasks a worker holds, counted per owner at every claim: a few rows at most.
            models.Index(
                fields=["user"],
                condition=Q(lease_expires_at__isnull=False),
                name="idx_tasks_claimed_user",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=TaskStatus.values), name="scheduled_tasks_status_valid"
            ),
        ]
        # skills.RUN_MAINTENANCE_SKILLS: what a maintenance skill needs of the task's owner.
        permissions = [("run_maintenance_skills", "Can schedule and run maintenance skills")]

    def __str__(self):
        return f"{self.skill_name} ({self.schedule_cron})"

    def clean_fields(self, exclude=None):
        """The fields' validators, then params_json against the skill's declared parameters
        whenever either of the two is validated: an update validates only the fields it changes
        (services.task_update), so a task another field's newer rule would refuse stays
        editable."""
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as error:
            errors = error.error_dict
        else:
            errors = {}
        validated = {"skill_name", "params_json"} - set(exclude or ())
        registered = get_skill(self.skill_name)
        if (
            validated
            and not validated & errors.keys()
            and registered is not None
            and isinstance(self.params_json, dict)
        ):
            problems = params_errors(registered, self.params_json)
            if problems:
                errors["params_json"] = problems
        if errors:
            raise ValidationError(errors)

    def clean(self):
        """A task joins only its owner's projects; a new one only while its owner has fewer than
        TASKS_MAX_PER_USER tasks (task_create locks the owner's row, so the count is exact)."""
        if self.project_id is not None and self.project.user_id != self.user_id:
            raise ValidationError({"project": "The project belongs to another user."})
        if self._state.adding and self.user_id is not None:
            owned = ScheduledTask.objects.filter(user_id=self.user_id).count()
            most = settings.TASKS_MAX_PER_USER
            if owned >= most:
                raise ValidationError(
                    f"The owner already has {owned} scheduled tasks; one user may have at most "
                    f"{most} (TASKS_MAX_PER_USER).",
                    code="too_many_tasks",
                )


class AgentStatus(models.TextChoices):
    ACTIVE = "active"
    IDLE = "idle"
    BUSY = "busy"
    OFFLINE = "offline"
    ERROR = "error"


AGENT_NAME_TAKEN = "An agent with this name already exists."
AGENT_NAME_TAKEN_CODE = "agent_name_taken"


class Agent(AuditedModel):
    """An agent that executes work (table `agents`). Its type is one of the registry's
    (scheduling.agent_types), checked by validation rather than a database constraint because
    the registry is extendable in settings."""

    # Unique whatever the case (agents_name_lower_unique): "Builder" and "builder" are one name.
    name = models.CharField(max_length=100, validators=[validate_storable_text])
    type = models.CharField(max_length=50, db_index=True, validators=[validate_agent_type])
    capabilities_json = ShapedJSONField(default=list, blank=True, validators=[validate_json_array])
    status = models.CharField(
        max_length=20, choices=AgentStatus.choices, default=AgentStatus.IDLE, db_index=True
    )
    last_active_at = models.DateTimeField(null=True, blank=True)

    # Every heartbeat stamps it: liveness, not a change anyone makes (a status it sets is
    # recorded).
    audit_exclude = ("last_active_at",)

    class Meta:
        db_table = "agents"
        indexes = [
            models.Index(fields=["type", "status"], name="idx_agents_type_status"),
            models.Index(fields=["status", "last_active_at"], name="idx_agents_status_active"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=AgentStatus.values), name="agents_status_valid"
            ),
            models.UniqueConstraint(
                Lower("name"),
                name="agents_name_lower_unique",
                violation_error_message=AGENT_NAME_TAKEN,
                violation_error_code=AGENT_NAME_TAKEN_CODE,
            ),
        ]

    def __str__(self):
        return self.name


class ExecutionStatus(models.TextChoices):
    SUCCESS = "success"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"


# What the API calls an execution with no final status yet (stored as NULL).
EXECUTION_RUNNING = "running"


class ExecutionResult(AuditedModel):
    """One run of a task (table `execution_results`). Created when the run starts; status,
    ended_at and duration_ms stay empty until it completes."""

    task = models.ForeignKey(ScheduledTask, on_delete=models.CASCADE, related_name="executions")
    # The cron slot this run serves; one slot never runs twice (unique with task).
    scheduled_for = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(default=now, db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=ExecutionStatus.choices, null=True, blank=True, db_index=True
    )
    output_text = models.TextField(
        blank=True,
        default="",
        max_length=EXECUTION_TEXT_MAX_LENGTH,
        validators=[validate_storable_text, MaxLengthValidator(EXECUTION_TEXT_MAX_LENGTH)],
    )
    # What went wrong, for the task's owner: the exception's type and message, never a traceback.
    error_text = models.TextField(
        blank=True,
        default="",
        max_length=EXECUTION_TEXT_MAX_LENGTH,
        validators=[validate_storable_text, MaxLengthValidator(EXECUTION_TEXT_MAX_LENGTH)],
    )
    # The traceback of a skill that raised: for staff (the admin), never shown by the API.
    traceback_text = models.TextField(
        blank=True,
        default="",
        editable=False,
        max_length=EXECUTION_TEXT_MAX_LENGTH,
        validators=[validate_storable_text, MaxLengthValidator(EXECUTION_TEXT_MAX_LENGTH)],
    )
    # Milliseconds: never negative (a constraint), at most an integer every JSON reader keeps exact.
    duration_ms = models.BigIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(MAX_JSON_INTEGER)]
    )
    worker = models.CharField(
        max_length=100, blank=True, default="", validators=[validate_storable_text]
    )

    class Meta:
        db_table = "execution_results"
        indexes = [
            models.Index(fields=["task", "started_at"], name="idx_executions_task_started"),
            models.Index(fields=["status", "started_at"], name="idx_executions_status_started"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__isnull=True) | Q(status__in=ExecutionStatus.values),
                name="execution_results_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(duration_ms__isnull=True) | Q(duration_ms__gte=0),
                name="execution_results_duration_non_negative",
                violation_error_message="duration_ms cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="execution_results_ended_after_started",
                violation_error_message="ended_at cannot be before started_at.",
            ),
            models.UniqueConstraint(
                fields=["task", "scheduled_for"],
                name="execution_results_one_run_per_slot",
                violation_error_message="This task already has an execution for that slot.",
            ),
        ]

    def __str__(self):
        return f"{self.task_id} @ {self.started_at:%Y-%m-%d %H:%M:%S} ({self.status or 'running'})"

    def clean(self):
        # A run ends with a final status: one without the other is half a completion.
        if self.ended_at is not None and self.status is None:
            raise ValidationError(
                {"ended_at": "An execution ends with a final status: give status too."}
            )
        if self.status is not None and self.ended_at is None:
            raise ValidationError({"ended_at": "A completed execution has an end time."})


class SchedulerHeartbeat(models.Model):
    """One scheduler process's last loop (table `scheduler_heartbeats`, one row per worker id):
    what /health/scheduler and the events dashboard show. Operational state rewritten every few
    seconds, so not audited; what matters (a scheduler gone quiet) is recorded as an event."""

    worker = models.CharField(max_length=100, primary_key=True)
    started_at = models.DateTimeField()
    last_loop_at = models.DateTimeField()
    # Due tasks (pending, next_run_at <= now) waiting to be claimed at the last heartbeat.
    due_waiting = models.PositiveIntegerField(default=0)
    # A clean stop (SIGTERM, --once); null while it runs or when it died.
    stopped_at = models.DateTimeField(null=True, blank=True)
    # When its silence was recorded as an error event; cleared when it loops again.
    reported_stale_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "scheduler_heartbeats"

    def __str__(self):
        return self.worker
