"""Project writes."""

from django.db import transaction

from brain.db.rows import lock_row
from brain.services import assign

from ..models import Project, ScheduledTask

PROJECT_UPDATABLE = frozenset({"name", "description"})


class ProjectHasTasks(Exception):
    """A project that still has tasks is not deleted: they would lose their project silently."""

    def __init__(self, count):
        self.count = count
        tasks = "1 task: delete or move it" if count == 1 else f"{count} tasks: delete or move them"
        super().__init__(f"This project has {tasks} first.")


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
    overwritten by a stale copy. The row is locked and read again first (raising
    Project.DoesNotExist when it was deleted meanwhile). An update that changes nothing writes
    nothing (updated_at stays)."""
    lock_row(project, no_key=True)
    changed = assign(project, data, updatable=PROJECT_UPDATABLE)
    project.full_clean()
    if changed:
        project.save(update_fields=[*sorted(changed), "updated_at"])
    return project


@transaction.atomic
def project_delete(*, project: Project) -> None:
    """Deletes a project that has no tasks; one that has some raises ProjectHasTasks with their
    number, and nothing changes. The row is locked FOR UPDATE and read again first
    (Project.DoesNotExist when it was deleted meanwhile): a task created in or moved to the
    project must wait for that lock, so the count is exact when the project goes."""
    lock_row(project)
    count = ScheduledTask.objects.filter(project=project).count()
    if count:
        raise ProjectHasTasks(count)
    project.delete()
