"""Invalidation of cached token lookups: a deleted or changed token or a changed user is seen at
once."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from . import invalidation
from .api.authentication import TOKEN_REVOKED_SECONDS, token_cache_key
from .models import APIToken


def _revoke_tokens(digests):
    """After commit, replaces the cached lookups of these tokens (by digest) by a short-lived
    revocation (an integer, never a lookup), which a request that read the token before the
    commit cannot overwrite (CachedTokenAuthentication stores with add); never lost
    (brain.invalidation)."""
    keys = [token_cache_key(digest) for digest in digests]
    if not keys:
        return
    operations = invalidation.Invalidation(stamped=dict.fromkeys(keys, TOKEN_REVOKED_SECONDS))
    transaction.on_commit(lambda: invalidation.apply(operations), robust=True)


@receiver([post_save, post_delete], sender=APIToken, dispatch_uid="brain.token_changed")
def token_changed(sender, instance, created=False, **kwargs):
    """Revokes the cached lookup of a deleted or changed token (scope, expiry) after commit."""
    if not created:
        _revoke_tokens([instance.digest])


@receiver(post_save, sender=get_user_model(), dispatch_uid="brain.user_saved")
def user_saved(sender, instance, created, **kwargs):
    """Revokes the cached lookups of a changed user's tokens (is_active, is_staff...) after
    commit."""
    if not created:
        tokens = APIToken.objects.filter(user_id=instance.pk)
        _revoke_tokens(tokens.values_list("digest", flat=True))
