"""Project writes."""

from django.db import transaction

from brain.services import assign

from ..models import Project, ScheduledTask

PROJECT_UPDATABLE = frozenset({"name", "description"})


@transaction.atomic
def project_create(*, user, name: str, description: str = "") -> Project:
    """Creates `user`'s project, with tasks_count 0."""
    project = Project(user=user, name=name, description=description)
    project.full_clean()
    project.save()
    return project


@transaction.atomic
def project_update(*, project: Project, data: dict) -> Project:
    """Updates a project's name and description; tasks_count and user never change here. Only
    the changed fields are written, so a tasks_count moved meanwhile by a task write is never
    overwritten by a stale copy."""
    assign(project, data, updatable=PROJECT_UPDATABLE)
    project.full_clean()
    project.save(update_fields=[*sorted(data), "updated_at"])
    return project


@transaction.atomic
def project_delete(*, project: Project) -> None:
    """Deletes a project. Its tasks stay, detached (project_id null), through the audited
    QuerySet rather than Django's silent SET_NULL."""
    ScheduledTask.objects.filter(project=project).update(project=None)
    project.delete()
