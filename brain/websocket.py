"""Who a WebSocket is: the API's credentials, checked on the handshake and again while it is open.

A client sends `Authorization: Token <key>` on the handshake, of a `read` or `full` token
(brain.api.authentication's lookup, cached as for HTTP), or, from a page Brain served, the
session cookie: the session counts only when the handshake's Origin is Brain's own (the Host it
was sent to, or one of CSRF_TRUSTED_ORIGINS), so another site's page cannot open a socket with an
operator's cookie.
`authenticated_user(scope)` answers for the handshake and for each later check, so a token
deleted or expired or a user deactivated or logged out since is seen within one check.
"""

from urllib.parse import urlsplit

from channels.auth import get_user
from channels.db import database_sync_to_async
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.conf import settings
from rest_framework import exceptions

from .api.authentication import token_lookup
from .models import TokenScope


def in_database_thread(function):
    """`function` run in a thread with a database connection of its own, returned after."""
    return database_sync_to_async(function, thread_sensitive=False)


def _header(scope, name):
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _meta(scope):
    """The two keys of a WSGI environ that name the client (brain.context.client_address)."""
    client = scope.get("client") or ("", 0)
    return {
        "REMOTE_ADDR": client[0] or "",
        "HTTP_X_FORWARDED_FOR": _header(scope, b"x-forwarded-for") or "",
    }


def same_origin(scope):
    """Whether the handshake's Origin is the host it was sent to, or one of
    CSRF_TRUSTED_ORIGINS (scheme, host and port)."""
    origin = _header(scope, b"origin")
    if not origin:
        return False
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    host = _header(scope, b"host")
    parsed = urlsplit(origin)
    return bool(host) and parsed.scheme in {"http", "https"} and parsed.netloc == host


def _token_user(key, meta):
    """The user of a `read` or `full` API token; None for any other."""
    try:
        user, token = token_lookup(key, meta=meta)
    except (exceptions.AuthenticationFailed, exceptions.Throttled):
        return None
    return None if token.scope == TokenScope.INGEST else user


async def authenticated_user(scope):
    """The active user the handshake's credentials name, or None: a valid API token in
    `Authorization: Token <key>`, else the session of a same-origin handshake. Checks again on
    every call (the token's lookup is cached, and dropped when the token or its user changes)."""
    authorization = _header(scope, b"authorization")
    if authorization is not None:
        keyword, _, key = authorization.partition(" ")
        if keyword != "Token" or not key.strip() or " " in key.strip():
            return None
        return await in_database_thread(_token_user)(key.strip(), _meta(scope))
    session = scope.get("session")
    if session is None or not session.session_key or not same_origin(scope):
        return None
    # The session as stored now, not as the handshake loaded it: a logout deletes it.
    if not await in_database_thread(session.exists)(session.session_key):
        return None
    user = await get_user(scope)
    return user if user.is_authenticated and user.is_active else None


def SessionCredentialsMiddleware(inner):
    """Channels' cookie and session middleware: `scope["session"]` for authenticated_user()."""
    return CookieMiddleware(SessionMiddleware(inner))
