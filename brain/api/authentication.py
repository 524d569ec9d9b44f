"""Token authentication whose lookup is cached, so an authenticated hot path need not touch
PostgreSQL. The cached entry is dropped when the token is deleted or its user changes
(brain.receivers)."""

import hashlib

from django.conf import settings
from django.core.cache import cache
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token


def token_cache_key(key):
    """Cache key of one token's user; the token itself is hashed so Redis never holds it."""
    return "auth:token:" + hashlib.sha256(key.encode()).hexdigest()


class CachedTokenAuthentication(TokenAuthentication):
    """DRF's `Authorization: Token <key>`, with the token -> user lookup cached for
    TOKEN_CACHE_TTL seconds."""

    def authenticate_credentials(self, key):
        cache_key = token_cache_key(key)
        cached = cache.get(cache_key)
        if cached is not None:
            user, token = cached
            return user, token
        try:
            token = Token.objects.select_related("user").get(key=key)
        except Token.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        cache.set(cache_key, (token.user, token), settings.TOKEN_CACHE_TTL)
        return token.user, token
