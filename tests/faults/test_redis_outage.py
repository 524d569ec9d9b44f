"""Redis hung under a running Brain: every answer still right, the breaker keeps each request
from waiting for Redis (one request per second and per worker probes it), and what a write
invalidated meanwhile is never served once Redis answers again, even when a drain's script call
delayed in the network reaches Redis after it."""

import time

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import override_settings
from django_redis import get_redis_connection

from brain import invalidation
from brain.models import APIToken, PendingInvalidation
from brain.tokens import token_create
from events.models import SystemEvent

from .conftest import HUNG, redis_url
from .sentinel import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_hung_redis_costs_a_request_little(redis_proxy, serve, user):
    token = {"Authorization": f"Token {token_create(user=user)}"}
    server = serve(redis=redis_url(redis_proxy.port))
    created = server.request(
        "POST", "/api/events", {"event_type": "deploy", "severity": "info", "message": "m"}, token
    )
    path = f"/api/events/{created.json()['id']}"
    up = [server.request("GET", path, headers=token) for _ in range(30)]

    redis_proxy.pause()
    down = [server.request("GET", path, headers=token) for _ in range(30)]
    ready = server.request("GET", "/health/ready")
    redis_proxy.restore()

    assert {(reply.status, reply.body) for reply in up + down} == {(200, created.body)}
    assert (ready.status, ready.json()["status"], ready.seconds < HUNG) == (200, "degraded", True)
    # Requests that waited for Redis's socket timeout (0.25 s): the breaker's probes, not each
    # request (on a loaded machine some others take as long for other reasons).
    waited = [reply.seconds for reply in down if reply.seconds >= 0.25]
    assert len(waited) < len(down) // 2, waited


def test_a_write_during_a_redis_pause_is_never_read_stale_after_it(
    redis_proxy, serve, user, staff_user
):
    token = {"Authorization": f"Token {token_create(user=user)}"}
    staff = {"Authorization": f"Token {token_create(user=staff_user)}"}
    doomed = User.objects.create_user("doomed")
    doomed_key = token_create(user=doomed)
    server = serve(redis=redis_url(redis_proxy.port))
    created = server.request(
        "POST", "/api/events", {"event_type": "deploy", "severity": "info", "message": "m"}, token
    )
    path = f"/api/events/{created.json()['id']}"
    server.request("GET", path, headers=token)  # cached
    server.request("GET", "/api/events/stats", headers=token)
    gone = {"Authorization": f"Token {doomed_key}"}
    assert server.request("GET", "/api/auth/me", headers=gone).status == 200  # lookup cached

    redis_proxy.pause()  # Redis keeps its data, and answers nobody
    changed = server.request("PATCH", path, {"message": "changed", "severity": "critical"}, staff)
    APIToken.objects.filter(user=doomed).delete()
    time.sleep(invalidation.LEASE_SECONDS + 0.5)  # an outage longer than the lease
    redis_proxy.restore()

    assert changed.status == 200
    assert server.request("GET", path, headers=token).json()["message"] == "changed"
    stats = server.request("GET", "/api/events/stats", headers=token).json()
    assert stats["by_severity"]["critical"] == 1
    assert server.request("GET", "/api/auth/me", headers=gone).status == 401
    assert not PendingInvalidation.objects.exists()


def cache_at(location):
    """The cache's Redis at `location` for the block."""
    default = {**settings.CACHES["default"], "LOCATION": location}
    return override_settings(CACHES={"default": default})


def wait_on_redis_clock(seconds):
    """Returns once `seconds` have passed on Redis's own clock."""
    client = get_redis_connection("default")

    def now():
        whole, micro = client.time()
        return whole + micro / 1_000_000

    until = now() + seconds
    while now() < until:
        time.sleep(0.05)


def test_a_lease_renewal_that_reaches_redis_late_does_not_revive_the_lease(
    redis_proxy, api_client, staff_client
):
    """A drain's script call, delayed in the network until after a write kept its invalidation in
    PostgreSQL and the lease has run out, reaches Redis: what that write invalidated is still not
    served."""
    event = SystemEvent.objects.create(event_type="deploy", severity="info", message="before")
    path = f"/api/events/{event.pk}"
    assert api_client.get(path).json()["message"] == "before"  # cached
    # Kept earlier and applied by the drain's script call: its key shows that the call has run.
    applied = "outage:applied"
    PendingInvalidation.objects.create(
        operations=invalidation.Invalidation(stamped={applied: 60}).as_json()
    )
    cache.delete(invalidation.LEASE_KEY)

    redis_proxy.hold(b"EVALSHA")  # script calls are delayed, other commands go through
    with cache_at(redis_url(redis_proxy.port)):
        assert invalidation.drain() is False  # its script call timed out, and is on its way
    with cache_at("redis://127.0.0.1:1/0"):  # the writer cannot reach Redis
        changed = staff_client.patch(path, {"message": "after"})
    assert PendingInvalidation.objects.count() == 2
    wait_on_redis_clock(invalidation.LEASE_SECONDS)  # the outage outlasts the lease
    redis_proxy.restore()
    wait_for(lambda: cache.get(applied) is not None, "the delayed script call to reach Redis")

    assert changed.status_code == 200
    assert api_client.get(path).json()["message"] == "after"
    assert not PendingInvalidation.objects.exists()
