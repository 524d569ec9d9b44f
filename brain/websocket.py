"""Who a WebSocket is: the API's credentials, checked on the handshake and again while it is open.

A client sends `Authorization: Token <key>` on the handshake, of a `read` or `full` token
(brain.api.authentication's lookup, cached as for HTTP), or, from a page Brain served, the
session cookie: the session counts only when the handshake's Origin is Brain's own (the Host it
was sent to, or one of CSRF_TRUSTED_ORIGINS), so another site's page cannot open a socket with an
operator's cookie.
`authenticated_user(scope)` answers for the handshake; `credential_checks()` asks it again every
CHECK_SECONDS while a socket is open, once per credential (a token, a session) for all the sockets
of the process that share it, so a token deleted or expired or a user deactivated or logged out
since is seen within one check.
"""

import asyncio
import logging
import weakref
from importlib import import_module
from urllib.parse import urlsplit

from channels.auth import get_user
from channels.db import database_sync_to_async
from channels.sessions import CookieMiddleware
from django.conf import settings
from rest_framework import exceptions

from .api.authentication import token_lookup
from .models import TokenScope

logger = logging.getLogger(__name__)

# Seconds between two checks of the credentials of the open sockets.
CHECK_SECONDS = 3.0


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


def _credential(scope):
    """What names the socket's user: its token, or its session's key."""
    authorization = _header(scope, b"authorization")
    if authorization is not None:
        return ("token", authorization)
    return ("session", scope["session"].session_key)


class CredentialChecks:
    """The open sockets of one event loop (`credential_checks()`) whose credentials are checked
    again every CHECK_SECONDS: each credential once (authenticated_user() of the first socket that
    holds it), its answer given to every socket that holds it. Runs while a socket is watched."""

    def __init__(self):
        self.watchers = {}  # credential -> {callback: scope}
        self.task = None

    def watch(self, scope, checked):
        """Calls `checked(user)` after each check of `scope`'s credentials, with the user they
        name now or None (no longer valid), until `unwatch(scope, checked)`."""
        self.watchers.setdefault(_credential(scope), {})[checked] = scope
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self.run(), name="websocket-credential-checks")

    def unwatch(self, scope, checked):
        credential = _credential(scope)
        callbacks = self.watchers.get(credential, {})
        callbacks.pop(checked, None)
        if not callbacks:
            self.watchers.pop(credential, None)

    async def run(self):
        while self.watchers:
            await asyncio.sleep(CHECK_SECONDS)
            for callbacks in list(self.watchers.values()):
                if not callbacks:
                    continue
                try:
                    user = await authenticated_user(next(iter(callbacks.values())))
                except Exception:
                    # The check could not be made (PostgreSQL unreachable): the sockets stay
                    # as they are until a check answers.
                    logger.warning("websocket credentials not checked", exc_info=True)
                    continue
                for checked in list(callbacks):
                    checked(user)


_checks = weakref.WeakKeyDictionary()


def credential_checks():
    """The CredentialChecks of the running event loop: one per ASGI worker process."""
    loop = asyncio.get_running_loop()
    if loop not in _checks:
        _checks[loop] = CredentialChecks()
    return _checks[loop]


class SessionScopeMiddleware:
    """Sets `scope["session"]`: the Django session the handshake's cookie names (loaded when
    first read), for authenticated_user(). A socket reads its session and never saves it, so
    the application's messages pass to the server untouched (channels' SessionMiddleware wraps
    every send to save a modified session)."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        store = import_module(settings.SESSION_ENGINE).SessionStore
        key = scope["cookies"].get(settings.SESSION_COOKIE_NAME)
        return await self.inner({**scope, "session": store(key)}, receive, send)


def SessionCredentialsMiddleware(inner):
    """Channels' cookie middleware and the session's: `scope["session"]` for
    authenticated_user()."""
    return CookieMiddleware(SessionScopeMiddleware(inner))
