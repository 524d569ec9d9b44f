"""Token authentication whose lookup is cached, so an authenticated hot path need not touch
PostgreSQL. The cached entry is dropped when the token is deleted or its user changes
(brain.receivers)."""

import functools
import hashlib
import threading
from collections import OrderedDict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.authtoken.models import Token

from . import readahead

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


# Which user each token belonged to when this process last authenticated it (token cache key ->
# user pk), so that the user's rate-limit counter can be read ahead with the token itself. A hint
# only: the user is still taken from the cached lookup or the database on every request.
_TOKEN_USERS_MAX = 10_000
_token_users = OrderedDict()
_token_users_lock = threading.Lock()  # shared by a threaded server's threads


def _remember_token_user(cache_key, user_pk):
    with _token_users_lock:
        _token_users[cache_key] = user_pk
        _token_users.move_to_end(cache_key)
        if len(_token_users) > _TOKEN_USERS_MAX:
            _token_users.popitem(last=False)


def _request_token(request, keyword):
    """The token of an `Authorization: <keyword> <token>` header, or None (DRF's authenticate()
    reports a malformed header)."""
    parts = get_authorization_header(request).split()
    if len(parts) != 2 or parts[0].lower() != keyword.lower().encode():
        return None
    try:
        return parts[1].decode()
    except UnicodeError:
        return None


def request_token_user(request):
    """The pk of the user whose token the request carries, as last seen by this process, or
    None: a hint for reading that user's rate-limit counter ahead (brain.api.readahead). Should
    the token have been given to another user since, the request is still counted for the user
    it authenticates, and the hinted user's counter has counted one request too many."""
    token = _request_token(request, CachedTokenAuthentication.keyword)
    return None if token is None else _token_users.get(token_cache_key(token))


class CachedTokenAuthentication(TokenAuthentication):
    """DRF's `Authorization: Token <key>`, with the token -> user lookup cached for
    TOKEN_CACHE_TTL seconds. The user is rebuilt as Django loads a row (`from_db`) from its
    non-secret fields: its password stays deferred, so nothing secret is cached and a save of it
    could only write the fields it has."""

    read_ahead = readahead.NOTHING

    def read_ahead_keys(self, request):
        token = _request_token(request, self.keyword)
        return [] if token is None else [token_cache_key(token)]

    def authenticate(self, request):
        self.read_ahead = readahead.of(request)
        return super().authenticate(request)

    def authenticate_credentials(self, key):
        if "\x00" in key:  # no token has one, and PostgreSQL would refuse the lookup
            raise exceptions.AuthenticationFailed("Invalid token.")
        cache_key = token_cache_key(key)
        found = self.read_ahead.get_many([cache_key])
        cached = cache.get(cache_key) if found is None else found.get(cache_key)
        User = get_user_model()
        user_fields = _cached_fields(User, SECRET_USER_FIELDS)
        token_fields = _cached_fields(Token)
        if cached is not None:
            user_values, token_values = cached
            user = User.from_db("default", user_fields, user_values)
            _remember_token_user(cache_key, user.pk)
            return user, Token.from_db("default", token_fields, token_values)
        try:
            token = Token.objects.select_related("user").get(key=key)
        except Token.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        cached = (
            [getattr(token.user, name) for name in user_fields],
            [getattr(token, name) for name in token_fields],
        )
        cache.set(cache_key, cached, settings.TOKEN_CACHE_TTL)
        _remember_token_user(cache_key, token.user.pk)
        return token.user, token
