"""The scheduler's reads."""

from django.db.models import Min

from .models import ScheduledTask, TaskStatus


def task_next_due_at():
    """When the earliest pending task falls due (None when no task is pending): one indexed
    aggregate on (status, next_run_at), so an idle scheduler wakes on time, not a poll late."""
    return ScheduledTask.objects.filter(status=TaskStatus.PENDING).aggregate(
        next_due=Min("next_run_at")
    )["next_due"]
