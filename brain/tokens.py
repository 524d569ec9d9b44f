"""API tokens: a new token's key is returned once and only its SHA-256 is stored. Each write is
one transaction with its audit records (the audit app records APIToken's saves and deletes, never
the key, the digest or the last use)."""

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import APIToken, TokenScope

# The longest an API token may be asked to live: a year.
TOKEN_MAX_SECONDS = 365 * 24 * 3600
# Expired tokens token_purge_expired deletes per transaction.
PURGE_BATCH_SIZE = 1_000


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


def token_purge_count(*, expired_before: datetime) -> int:
    """How many tokens token_purge_expired(expired_before=...) would delete now."""
    return APIToken.objects.filter(expires_at__lt=expired_before).count()


def token_purge_expired(
    *, expired_before: datetime, batch_size: int = PURGE_BATCH_SIZE, progress=None
) -> int:
    """Deletes the API tokens that expired before `expired_before` and returns how many:
    `batch_size` per transaction, each token with its DELETE audit record and its cached lookup
    revoked at commit; `progress(n)` is called after each batch. A token that never expires is
    kept. Each batch locks its rows first, skipping those another transaction holds, so a token
    revoked meanwhile is neither counted nor recorded twice."""
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(
                APIToken.objects.filter(expires_at__lt=expired_before)
                .select_for_update(skip_locked=True)
                .order_by()
                .values_list("id", flat=True)[:batch_size]
            )
            if not ids:
                return deleted
            count, _ = APIToken.objects.filter(id__in=ids).delete()
        deleted += count
        if progress is not None:
            progress(count)
