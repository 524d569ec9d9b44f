"""Token authentication whose lookup is cached, so an authenticated hot path need not touch
PostgreSQL. The cached entry is dropped when the token is deleted or its user changes
(brain.receivers)."""

import functools
import hashlib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

# Fields never cached: the password hash.
SECRET_USER_FIELDS = frozenset({"password"})


@functools.cache
def _cached_fields(model, exclude=frozenset()):
    """The attnames of `model`'s concrete fields in model order, as `from_db` reads them (worked
    out once per model, not on every request)."""
    return [field.attname for field in model._meta.concrete_fields if field.attname not in exclude]


def token_cache_key(key):
    """Cache key of one token's user; the token itself is hashed so Redis never holds it."""
    return "auth:token:" + hashlib.sha256(key.encode()).hexdigest()


class CachedTokenAuthentication(TokenAuthentication):
    """DRF's `Authorization: Token <key>`, with the token -> user lookup cached for
    TOKEN_CACHE_TTL seconds. The user is rebuilt as Django loads a row (`from_db`) from its
    non-secret fields: its password stays deferred, so nothing secret is cached and a save of it
    could only write the fields it has."""

    def authenticate_credentials(self, key):
        cache_key = token_cache_key(key)
        cached = cache.get(cache_key)
        User = get_user_model()
        user_fields = _cached_fields(User, SECRET_USER_FIELDS)
        token_fields = _cached_fields(Token)
        if cached is not None:
            user_values, token_values = cached
            user = User.from_db("default", user_fields, user_values)
            return user, Token.from_db("default", token_fields, token_values)
        try:
            token = Token.objects.select_related("user").get(key=key)
        except Token.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        cached = (
            [getattr(token.user, name) for name in user_fields],
            [getattr(token, name) for name in token_fields],
        )
        cache.set(cache_key, cached, settings.TOKEN_CACHE_TTL)
        return token.user, token
