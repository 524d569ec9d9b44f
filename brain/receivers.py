"""Invalidation of cached token lookups: a deleted token or a changed user is seen at once."""

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from rest_framework.authtoken.models import Token

from . import invalidation
from .api.authentication import token_cache_key


def _forget_tokens(keys):
    keys = [token_cache_key(key) for key in keys]
    if not keys:
        return
    if invalidation.enabled():
        operations = invalidation.Invalidation(deleted=keys)
        transaction.on_commit(lambda: invalidation.apply(operations), robust=True)
    else:
        transaction.on_commit(lambda: cache.delete_many(keys), robust=True)


@receiver(post_delete, sender=Token, dispatch_uid="brain.token_deleted")
def token_deleted(sender, instance, **kwargs):
    """Drops the cached lookup of a deleted token after commit (never lost: brain.invalidation)."""
    _forget_tokens([instance.key])


@receiver(post_save, sender=get_user_model(), dispatch_uid="brain.user_saved")
def user_saved(sender, instance, created, **kwargs):
    """Drops the cached lookups of a changed user's tokens (is_active, is_staff...) after commit."""
    if not created:
        _forget_tokens(Token.objects.filter(user_id=instance.pk).values_list("key", flat=True))
