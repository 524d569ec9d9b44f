"""Token authentication on DRF's TokenAuthentication, with hashed tokens (brain.tokens) and the
lookup cached, so an authenticated hot path need not touch PostgreSQL. A deleted or changed token
or a changed user revokes the cached lookup after commit (brain.receivers), and a cached lookup is
trusted only while the cache lease is alive (brain.invalidation), so a revoked token is refused
at once, even after a Redis outage."""

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.throttling import SimpleRateThrottle

from brain import invalidation
from brain.context import client_address
from brain.models import APIToken
from brain.tokens import token_digest

# How long a revocation (brain.receivers) keeps a request that read the token before it from
# caching the lookup again: longer than any request takes.
TOKEN_REVOKED_SECONDS = 60


def token_cache_key(digest):
    """Cache key of one token's lookup, named by its digest (the SHA-256 of its key)."""
    return "auth:token:" + digest


class FailedTokenThrottle(SimpleRateThrottle):
    """Token lookups that matched no token, per client address (brain.context.client_address of
    the request's `meta`), at THROTTLE_RATE_FAILED_TOKEN. allow_request() only checks;
    record_failure() counts."""

    scope = "failed_token"

    def __init__(self, meta):
        super().__init__()
        self.meta = meta

    def get_cache_key(self, request, view):
        ident = client_address(self.meta, settings.TRUSTED_PROXY_COUNT) or ""
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def throttle_success(self):
        return True

    def record_failure(self):
        """Counts the failed lookup that allow_request() checked."""
        if self.rate is not None:
            super().throttle_success()


def token_lookup(key, *, meta):
    """The (user, APIToken) of the API token `key`, its user without the password hash, from the
    cache or else one SELECT by the key's digest (then its last use is recorded, unless it was
    within TOKEN_CACHE_TTL seconds, and the lookup cached for TOKEN_CACHE_TTL seconds). Raises
    DRF's AuthenticationFailed for a token that does not exist or has expired, or an inactive
    user, and Throttled when the client (REMOTE_ADDR and X-Forwarded-For of `meta`, a request's
    META) has had more than THROTTLE_RATE_FAILED_TOKEN lookups match no token, before looking up
    a token not cached."""
    digest = token_digest(key)
    cache_key = token_cache_key(digest)
    found = cache.get_many([cache_key, invalidation.LEASE_KEY])
    token = (invalidation.trusted_values([cache_key], found) or {}).get(cache_key)
    if not isinstance(token, APIToken):  # a miss, or an integer: revoked moments ago
        failures = FailedTokenThrottle(meta)
        if not failures.allow_request(None, None):
            raise exceptions.Throttled(failures.wait())
        try:
            token = (
                APIToken.objects.select_related("user").defer("user__password").get(digest=digest)
            )
        except APIToken.DoesNotExist:
            failures.record_failure()
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        now = timezone.now()
        recent = now - timedelta(seconds=settings.TOKEN_CACHE_TTL)
        if token.last_used_at is None or token.last_used_at < recent:
            # An UPDATE, not a save: no signal, so the lookup is not revoked by its bookkeeping.
            APIToken.objects.filter(pk=token.pk).update(last_used_at=now)
        # add, not set: a revocation committed since the token was read is not overwritten.
        cache.add(cache_key, token, settings.TOKEN_CACHE_TTL)
    if token.is_expired():
        raise exceptions.AuthenticationFailed("Token has expired.")
    return token.user, token


class CachedTokenAuthentication(TokenAuthentication):
    """DRF's `Authorization: Token <key>` for hashed API tokens (brain.models.APIToken): the
    request's `auth` is the APIToken, whose scope the API's views check; its token and user
    (without the password hash) are cached for TOKEN_CACHE_TTL seconds (token_lookup). An address
    whose lookups matched no token more than THROTTLE_RATE_FAILED_TOKEN times gets 429 for a token
    not in the cache, before the lookup."""

    def authenticate(self, request):
        self.request = request
        return super().authenticate(request)

    def authenticate_credentials(self, key):
        return token_lookup(key, meta=self.request.META)
