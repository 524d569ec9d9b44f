from django.db import models
from django.utils import timezone


class PendingInvalidation(models.Model):
    """A committed write's cache invalidation that could not reach Redis, kept until it has been
    applied (brain.invalidation.drain)."""

    created_at = models.DateTimeField(default=timezone.now)
    operations = models.JSONField()

    class Meta:
        db_table = "cache_pending_invalidations"

    def __str__(self):
        return f"pending invalidation {self.pk} of {self.created_at:%Y-%m-%d %H:%M:%S}"
