"""API tokens: a new token's key is returned once and only its SHA-256 is stored. Each write is
one transaction with its audit records (the audit app records APIToken's saves and deletes, never
the key, the digest or the last use)."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import APIToken, TokenScope

# The longest an API token may be asked to live: a year.
TOKEN_MAX_SECONDS = 365 * 24 * 3600


def token_digest(key):
    """The SHA-256 of a token's key, as stored (APIToken.digest) and as its cached lookup is
    named: hex, 64 characters."""
    return hashlib.sha256(key.encode()).hexdigest()


def token_create(*, user, name="", scope=TokenScope.FULL, expires_in=None):
    """Makes an API token for `user` and returns its key (40 hexadecimal characters, as DRF's
    tokens), which is stored nowhere. It expires `expires_in` seconds from now, or TOKEN_TTL
    seconds when that is None (never, when TOKEN_TTL is unset too). One transaction: the token
    and its CREATE audit record."""
    key = secrets.token_hex(20)
    seconds = expires_in if expires_in is not None else settings.TOKEN_TTL
    with transaction.atomic():
        APIToken.objects.create(
            digest=token_digest(key),
            prefix=key[:8],
            user=user,
            name=name,
            scope=scope,
            expires_at=timezone.now() + timedelta(seconds=seconds) if seconds is not None else None,
        )
    return key


def token_revoke(*, token):
    """Deletes `token` (an APIToken): from the commit on, its key is refused (a 401), even where
    its lookup was cached (brain.receivers revokes the cached lookup at commit). One
    transaction: the delete and its DELETE audit record."""
    token.delete()


def token_revoke_all(*, user):
    """Deletes every API token of `user` and returns how many there were: from the commit on,
    their keys are refused (a 401), even where their lookups were cached. One transaction: the
    delete and a DELETE audit record per token."""
    count, _ = APIToken.objects.filter(user=user).delete()
    return count
