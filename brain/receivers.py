"""Invalidation of cached token lookups: a deleted token or a changed user is seen at once."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from rest_framework.authtoken.models import Token

from . import invalidation
from .api.authentication import TOKEN_REVOKED_SECONDS, token_cache_key


def _revoke_tokens(keys):
    """After commit, replaces the cached lookups of these tokens by a short-lived revocation
    (an integer, never a lookup), which a request that read the token before the commit cannot
    overwrite (CachedTokenAuthentication stores with add); never lost (brain.invalidation)."""
    keys = [token_cache_key(key) for key in keys]
    if not keys:
        return
    operations = invalidation.Invalidation(stamped=dict.fromkeys(keys, TOKEN_REVOKED_SECONDS))
    transaction.on_commit(lambda: invalidation.apply(operations), robust=True)


@receiver(post_delete, sender=Token, dispatch_uid="brain.token_deleted")
def token_deleted(sender, instance, **kwargs):
    """Revokes the cached lookup of a deleted token after commit."""
    _revoke_tokens([instance.key])


@receiver(post_save, sender=get_user_model(), dispatch_uid="brain.user_saved")
def user_saved(sender, instance, created, **kwargs):
    """Revokes the cached lookups of a changed user's tokens (is_active, is_staff...) after
    commit."""
    if not created:
        _revoke_tokens(Token.objects.filter(user_id=instance.pk).values_list("key", flat=True))
