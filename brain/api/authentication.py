"""Token authentication whose lookup is cached, so an authenticated hot path need not touch
PostgreSQL. The cached entry is dropped when the token is deleted or its user changes
(brain.receivers), and trusted only while the cache lease is alive (brain.invalidation)."""

import functools
import hashlib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle

from brain import invalidation
from brain.context import client_ip
from brain.invalidation import LEASE_KEY

from . import readahead

# Fields never cached: the password hash.
SECRET_USER_FIELDS = frozenset({"password"})
# How long a revoked token's lookup (brain.receivers) keeps a request that read the token before
# the revocation from caching it again: longer than any request takes.
TOKEN_REVOKED_SECONDS = 60


@functools.cache
def _cached_fields(model, exclude=frozenset()):
    """The attnames of `model`'s concrete fields in model order, as `from_db` reads them."""
    return [field.attname for field in model._meta.concrete_fields if field.attname not in exclude]


def token_digest(key):
    """A token's SHA-256, hex: what Redis holds instead of the token itself."""
    return hashlib.sha256(key.encode()).hexdigest()


def token_cache_key(key):
    """Cache key of one token's user."""
    return "auth:token:" + token_digest(key)


def request_token(request):
    """The token of the request's `Authorization: Token <key>` header, or None (DRF's
    authenticate() reports a malformed header)."""
    parts = get_authorization_header(request).split()
    if len(parts) != 2 or parts[0].lower() != CachedTokenAuthentication.keyword.lower().encode():
        return None
    try:
        return parts[1].decode()
    except UnicodeError:
        return None


class FailedTokenThrottle(SimpleRateThrottle):
    """Token lookups that matched no token, per client address (brain.context.client_ip), at
    THROTTLE_RATE_FAILED_TOKEN. allow_request() only checks; record_failure() counts the lookup it
    checked once that lookup has failed. Valid tokens are never counted, whatever their number."""

    scope = "failed_token"

    def get_cache_key(self, request, view):
        ident = client_ip(request, settings.TRUSTED_PROXY_COUNT) or ""
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def throttle_success(self):
        return True  # a check only: record_failure() counts

    def record_failure(self):
        """Counts the failed lookup that allow_request() checked."""
        if self.rate is not None and self.key is not None:
            super().throttle_success()


class CachedTokenAuthentication(TokenAuthentication):
    """DRF's `Authorization: Token <key>`, with the token -> user lookup cached for
    TOKEN_CACHE_TTL seconds; a revoked lookup (brain.receivers) is read from PostgreSQL again.
    The user is rebuilt as Django loads a row (`from_db`) from its non-secret fields: its
    password stays deferred, so nothing secret is cached and a save of it could only write the
    fields it has.

    A client address whose lookups have matched no token more than THROTTLE_RATE_FAILED_TOKEN
    times is answered 429 for a token not in the cache, before its lookup: guessing tokens costs
    PostgreSQL nothing past the rate, and cached tokens from that address keep working."""

    read_ahead = readahead.NOTHING
    request = None

    def authenticate(self, request):
        self.read_ahead = readahead.of(request)
        self.request = request
        return super().authenticate(request)

    def authenticate_credentials(self, key):
        if "\x00" in key:  # no token has one, and PostgreSQL would refuse the lookup
            raise exceptions.AuthenticationFailed("Invalid token.")
        cache_key = token_cache_key(key)
        ahead = self.read_ahead
        if ahead.token_key == cache_key:
            found = {cache_key: ahead.lookup, **({LEASE_KEY: 1} if ahead.lease else {})}
        else:
            found = cache.get_many([cache_key, LEASE_KEY])
        found = invalidation.trusted_values([cache_key], found) or {}
        cached = found.get(cache_key)
        User = get_user_model()
        user_fields = _cached_fields(User, SECRET_USER_FIELDS)
        token_fields = _cached_fields(Token)
        if cached is not None and not isinstance(cached, int):  # an int: revoked moments ago
            user_values, token_values = cached
            user = User.from_db("default", user_fields, user_values)
            return user, Token.from_db("default", token_fields, token_values)
        failures = FailedTokenThrottle()
        if self.request is not None and not failures.allow_request(self.request, None):
            raise exceptions.Throttled(failures.wait())
        try:
            token = Token.objects.select_related("user").get(key=key)
        except Token.DoesNotExist:
            if self.request is not None:
                failures.record_failure()
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        cached = (
            [getattr(token.user, name) for name in user_fields],
            [getattr(token, name) for name in token_fields],
        )
        # add, not set: a revocation committed since the token was read is not overwritten.
        cache.add(cache_key, cached, settings.TOKEN_CACHE_TTL)
        return token.user, token
