"""Cache invalidation on every ORM write of a SystemEvent (API, admin, shell, commands), and the
server's lifecycle and health transitions that the project signals, recorded as events
(lifecycle)."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from brain.signals import readiness_checked, server_started, server_stopped

from . import lifecycle
from .cache import invalidate_after_commit
from .models import SystemEvent


def _touched_types(instance):
    """The type the event has and the type it was loaded with; None when the old type is unknown
    (an instance built by hand, or loaded with event_type deferred)."""
    current = instance.__dict__.get("event_type")
    if not hasattr(instance, "loaded_event_type") or current is None:
        return None
    return {current, instance.loaded_event_type} - {None}


@receiver(post_save, sender=SystemEvent, dispatch_uid="events.event_saved")
def event_saved(sender, instance, created, **kwargs):
    """After commit: drops the cached event and bumps its old and new type's and the stats'
    generations (every type's when the old type is unknown)."""
    if created:
        invalidate_after_commit(event_types={instance.event_type})
    else:
        types = _touched_types(instance)
        invalidate_after_commit(
            event_ids=[instance.pk], event_types=types or (), all_types=types is None
        )
    instance.loaded_event_type = instance.event_type


@receiver(post_delete, sender=SystemEvent, dispatch_uid="events.event_deleted")
def event_deleted(sender, instance, **kwargs):
    """After commit: drops the cached event and bumps its type's and the stats' generations."""
    types = _touched_types(instance)
    invalidate_after_commit(
        event_ids=[instance.pk], event_types=types or (), all_types=types is None
    )


@receiver(readiness_checked, dispatch_uid="events.readiness_checked")
def readiness_checked_recorded(sender, *, database_ok, cache_ok, **kwargs):
    """Records a change of the health state (lifecycle.record_health); an unchanged state costs
    no query, and a failure to record is logged, never raised."""
    lifecycle.record_health(database_ok=database_ok, cache_ok=cache_ok)


@receiver(server_started, dispatch_uid="events.server_started")
def server_started_recorded(sender, *, bind, workers, **kwargs):
    """Records the server's start (lifecycle.record_server_start)."""
    lifecycle.record_server_start(bind=bind, workers=workers)


@receiver(server_stopped, dispatch_uid="events.server_stopped")
def server_stopped_recorded(sender, *, bind, **kwargs):
    """Records the server's stop (lifecycle.record_server_stop)."""
    lifecycle.record_server_stop(bind=bind)
