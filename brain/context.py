"""Who, from where: the request context every audit record carries, and the client's address.

A ContextVar holds it: brain.middleware.AuditContextMiddleware sets it for a request (sync or
async), `audit_actor()` for code outside requests (management commands, the scheduler),
`audit_on_behalf_of()` for a process doing a user's work (the scheduler running a user's task).
The user is read when a record is written, not when the request starts, so the user DRF
authenticates inside the view (token auth) is the one recorded: DRF stores it on the underlying
Django request.
"""

import ipaddress
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class AuditContext:
    request: object = None
    actor: str | None = None
    ip_address: str | None = None
    user_agent: str = ""
    request_id: str = ""

    def user_id(self):
        """The actor (`system:seed`, or the user a process works for) or the authenticated
        user's primary key, as a string."""
        if self.actor:
            return self.actor
        user = getattr(self.request, "user", None)
        if user is not None and user.is_authenticated:
            return str(user.pk)
        return None


_current = ContextVar("audit_context", default=AuditContext())  # noqa: B039 (frozen)


def current_context():
    return _current.get()


def _valid_ip(value):
    try:
        return str(ipaddress.ip_address(value.strip()))
    except (ValueError, AttributeError):
        return None


def client_ip(request, trusted_proxy_count):
    """The client's address.

    With no trusted proxy, REMOTE_ADDR: X-Forwarded-For is whatever the client wrote. With N
    trusted proxies, each appends the address it received the request from, so the client is the
    Nth entry from the right, the rightmost one no trusted proxy wrote. Never the leftmost: a
    client can put anything there. A header shorter than N (the request skipped a proxy) or an
    entry that is not an IP address gives REMOTE_ADDR.
    """
    return client_address(request.META, trusted_proxy_count)


def client_address(meta, trusted_proxy_count):
    """client_ip() of a request whose WSGI environ (or the same two keys of it, REMOTE_ADDR and
    HTTP_X_FORWARDED_FOR) is `meta`."""
    remote_addr = _valid_ip(meta.get("REMOTE_ADDR", ""))
    if trusted_proxy_count <= 0:
        return remote_addr
    forwarded = meta.get("HTTP_X_FORWARDED_FOR", "").split(",")
    forwarded = [entry for entry in forwarded if entry.strip()]
    if len(forwarded) < trusted_proxy_count:
        return remote_addr
    return _valid_ip(forwarded[-trusted_proxy_count]) or remote_addr


def request_context(request):
    """The AuditContext of one HTTP request. Its request id is the one RequestLogMiddleware gave
    the request (Brain's own, or a trusted proxy's), never a header the client wrote, so only the
    records of that one request share it."""
    return AuditContext(
        request=request,
        ip_address=client_ip(request, settings.TRUSTED_PROXY_COUNT),
        # A NUL, which PostgreSQL cannot store, is kept visible as U+FFFD.
        user_agent=request.META.get("HTTP_USER_AGENT", "").replace("\x00", "\ufffd"),
        request_id=getattr(request, "request_id", ""),
    )


@contextmanager
def using_context(context):
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def audit_actor(actor):
    """Context manager: records written inside it name `actor` (`system:seed`,
    `system:scheduler`) as their user, with no IP address or user agent."""
    return using_context(AuditContext(actor=actor))


def audit_on_behalf_of(user_id, *, means, reference=""):
    """Context manager: records written inside it name the user `user_id` as their user, the
    process doing the work (`means`, `system:scheduler`) as their user agent and `reference`
    (`execution:42`) as their request id, with no IP address. The user is who the work is for;
    the user agent and request id say how it was done."""
    return using_context(AuditContext(actor=str(user_id), user_agent=means, request_id=reference))
