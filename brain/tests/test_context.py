"""The request context (brain.context): the client's address, and the middleware that sets the
context for a request and resets it after, sync and async."""

import asyncio

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from brain.context import client_ip, current_context
from brain.middleware import AuditContextMiddleware


@pytest.mark.parametrize(
    ("trusted", "forwarded_for", "expected"),
    [
        (0, "6.6.6.6", "10.0.0.1"),
        (1, "203.0.113.7", "203.0.113.7"),
        (1, "6.6.6.6, 203.0.113.7", "203.0.113.7"),
        (2, "6.6.6.6, 203.0.113.7, 10.0.0.2", "203.0.113.7"),
        (2, " 2001:db8::1 , 10.0.0.2", "2001:db8::1"),
        (2, "203.0.113.7", "10.0.0.1"),  # shorter than the proxy chain
        (1, "not-an-ip", "10.0.0.1"),
        (1, "", "10.0.0.1"),
    ],
)
def test_client_ip_is_the_rightmost_untrusted_entry(trusted, forwarded_for, expected):
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded_for)

    assert client_ip(request, trusted) == expected


def test_async_middleware_sets_and_resets_the_context():
    seen = []

    async def view(request):
        seen.append(current_context())
        return HttpResponse()

    request = RequestFactory().get("/", HTTP_USER_AGENT="async-client", REMOTE_ADDR="10.1.1.1")
    request.request_id = "async-1"
    middleware = AuditContextMiddleware(view)

    asyncio.run(middleware(request))

    assert (seen[0].ip_address, seen[0].user_agent, seen[0].request_id) == (
        "10.1.1.1",
        "async-client",
        "async-1",
    )
    assert current_context().request is None
