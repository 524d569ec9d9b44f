from django.conf import settings
from django.db import models, router, transaction
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


class TokenScope(models.TextChoices):
    """What an API token may do: read (safe methods only), ingest (create events only), or all
    that its user may."""

    READ = "read"
    INGEST = "ingest"
    FULL = "full"


class APIToken(models.Model):
    """An API token (`Authorization: Token <key>`), stored as the SHA-256 of its key: the key is
    shown once, when the token is made, and is nowhere in the database. A user may have several,
    each with a name, a scope and, optionally, an expiry."""

    digest = models.CharField(max_length=64, unique=True)
    # The key's first characters, so that an operator can tell tokens apart.
    prefix = models.CharField(max_length=8)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    scope = models.CharField(max_length=6, choices=TokenScope, default=TokenScope.FULL)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    # Set when a request's lookup of the token missed the cache: to within TOKEN_CACHE_TTL.
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "api_tokens"
        verbose_name = "API token"

    def __str__(self):
        return f"{self.name or 'token'} {self.prefix}… of {self.user.username}"

    def save(self, **kwargs):
        """Saves in one transaction with the post_save receivers (the audit app records the
        change there), as a delete already runs with its own: the row and what they write commit
        or roll back together."""
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        with transaction.atomic(using=using, savepoint=False):
            super().save(**kwargs)

    save.alters_data = True

    def is_expired(self):
        return self.expires_at is not None and self.expires_at <= timezone.now()
