"""Cache invalidation on every ORM write of a SystemEvent (API, admin, shell, commands)."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

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
