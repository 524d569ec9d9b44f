"""Project writes."""

from django.db import transaction

from ..models import Project, ScheduledTask
from .common import assign

PROJECT_UPDATABLE = frozenset({"name", "description"})
TASK_UPDATABLE = frozenset(
    {
        "skill_name",
        "schedule_cron",
        "timezone",
        "next_run_at",
        "params_json",
        "status",
        "timeout_seconds",
        "project",
        "claimed_by",
        "lease_expires_at",
    }
)
AGENT_UPDATABLE = frozenset({"name", "type", "capabilities_json", "status", "last_active_at"})
EXECUTION_UPDATABLE = frozenset(
    {
        "task",
        "scheduled_for",
        "started_at",
        "ended_at",
        "status",
        "output_text",
        "error_text",
        "duration_ms",
        "worker",
    }
)


@transaction.atomic
def project_create(*, user, name: str, description: str = "") -> Project:
    """Creates `user`'s project, with tasks_count 0."""
    project = Project(user=user, name=name, description=description)
    project.full_clean()
    project.save()
    return project


@transaction.atomic
def project_update(*, project: Project, data: dict) -> Project:
    """Updates a project's name and description; tasks_count and user never change here."""
    assign(project, data, PROJECT_UPDATABLE)
    project.full_clean()
    project.save()
    return project


@transaction.atomic
def project_delete(*, project: Project) -> None:
    """Deletes a project. Its tasks stay, detached (project_id null), through the audited
    QuerySet rather than Django's silent SET_NULL."""
    ScheduledTask.objects.filter(project=project).update(project=None)
    project.delete()
