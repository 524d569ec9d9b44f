"""SystemEvent's QuerySet: the audited bulk writes, which send no signals, invalidate the events
caches after commit like single saves do."""

from audit.mixins import AuditedQuerySet

from .cache import invalidate_after_commit, pooled_invalidation


class SystemEventQuerySet(AuditedQuerySet):
    """AuditedQuerySet whose `update()`, `bulk_update()` and `bulk_create()` schedule the events
    caches' invalidation, and whose `delete()` pools the invalidations of its post_delete
    receivers (events.receivers) into one."""

    def update(self, **kwargs):
        """Audited `update()`; after commit invalidates every cached event, every type's lists
        and the stats: which rows changed is known only inside the audited update, and finding
        out here would cost another query. `bulk_update()` runs this once per batch."""
        rows = super().update(**kwargs)
        if rows:
            invalidate_after_commit(all_events=True, all_types=True)
        return rows

    update.alters_data = True

    def bulk_create(self, objs, *args, **kwargs):
        """Audited `bulk_create()`; after commit invalidates the created events' types' lists and
        the stats (a new id has no cached entry)."""
        objs = super().bulk_create(objs, *args, **kwargs)
        if objs:
            invalidate_after_commit(event_types={obj.event_type for obj in objs})
        return objs

    bulk_create.alters_data = True

    def delete(self):
        """Audited `delete()`; its rows' post_delete invalidations are scheduled as one."""
        with pooled_invalidation():
            return super().delete()

    delete.alters_data = True
    delete.queryset_only = True
