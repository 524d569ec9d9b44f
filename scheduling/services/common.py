"""Helpers shared by the scheduling services."""

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from psycopg import errors

from ..models import Project


def save_or_conflict(instance, *, constraint, conflict_field, conflict_message, update_fields=None):
    """Saves in a savepoint (only `update_fields` when given). A violation of the unique
    `constraint` that a concurrent write slipped in after full_clean() becomes the same
    ValidationError full_clean() would have raised; any other IntegrityError (another
    constraint, a foreign key, a check) is a bug and propagates as it is."""
    try:
        with transaction.atomic():
            instance.save(update_fields=update_fields)
    except IntegrityError as error:
        cause = error.__cause__
        if isinstance(cause, errors.UniqueViolation) and cause.diag.constraint_name == constraint:
            raise ValidationError({conflict_field: conflict_message}) from error
        raise


def adjust_tasks_count(changes):
    """Applies {project_id: delta} with F() updates, in primary-key order (no deadlock between
    two transactions moving tasks in opposite directions)."""
    for project_id in sorted(pk for pk in changes if pk is not None):
        if changes[project_id]:
            Project.objects.filter(pk=project_id).update(
                tasks_count=F("tasks_count") + changes[project_id]
            )


def milliseconds_between(started_at: datetime, ended_at: datetime) -> int:
    return (ended_at - started_at) // timedelta(milliseconds=1)
