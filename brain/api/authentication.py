"""DRF's token authentication with its lookup cached, so an authenticated hot path need not touch
PostgreSQL. A deleted token or a changed user revokes the cached lookup after commit
(brain.receivers), and a cached lookup is trusted only while the cache lease is alive
(brain.invalidation), so a revoked token is refused at once, even after a Redis outage."""

import hashlib

from django.conf import settings
from django.core.cache import cache
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle

from brain import invalidation
from brain.context import client_address

# How long a revocation (brain.receivers) keeps a request that read the token before it from
# caching the lookup again: longer than any request takes.
TOKEN_REVOKED_SECONDS = 60


def token_cache_key(key):
    """Cache key of one token's lookup, named by the token's SHA-256."""
    return "auth:token:" + hashlib.sha256(key.encode()).hexdigest()


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
    """The (user, token) of the API token `key`, its user without the password hash, from the
    cache or else one SELECT (then cached for TOKEN_CACHE_TTL seconds). Raises DRF's
    AuthenticationFailed for a token that does not exist or an inactive user, and Throttled when
    the client (REMOTE_ADDR and X-Forwarded-For of `meta`, a request's META) has had more than
    THROTTLE_RATE_FAILED_TOKEN lookups match no token, before looking up a token not cached."""
    if "\x00" in key:  # no token has one, and PostgreSQL would refuse the lookup
        raise exceptions.AuthenticationFailed("Invalid token.")
    cache_key = token_cache_key(key)
    found = cache.get_many([cache_key, invalidation.LEASE_KEY])
    token = (invalidation.trusted_values([cache_key], found) or {}).get(cache_key)
    if isinstance(token, Token):  # else a miss, or an integer: revoked moments ago
        return token.user, token
    failures = FailedTokenThrottle(meta)
    if not failures.allow_request(None, None):
        raise exceptions.Throttled(failures.wait())
    try:
        token = Token.objects.select_related("user").defer("user__password").get(key=key)
    except Token.DoesNotExist:
        failures.record_failure()
        raise exceptions.AuthenticationFailed("Invalid token.") from None
    if not token.user.is_active:
        raise exceptions.AuthenticationFailed("User inactive or deleted.")
    # add, not set: a revocation committed since the token was read is not overwritten.
    cache.add(cache_key, token, settings.TOKEN_CACHE_TTL)
    return token.user, token


class CachedTokenAuthentication(TokenAuthentication):
    """DRF's `Authorization: Token <key>`, its token and user (without the password hash) cached
    for TOKEN_CACHE_TTL seconds (token_lookup). An address whose lookups matched no token more
    than THROTTLE_RATE_FAILED_TOKEN times gets 429 for a token not in the cache, before the
    lookup."""

    def authenticate(self, request):
        self.request = request
        return super().authenticate(request)

    def authenticate_credentials(self, key):
        return token_lookup(key, meta=self.request.META)
