"""Redis hung under a running Brain: every answer still right, the breaker keeps each request
from waiting for Redis (one request per second and per worker probes it), and what a write
invalidated meanwhile is never served once Redis answers again."""

import time

import pytest
from django.contrib.auth.models import User

from brain import invalidation
from brain.models import APIToken, PendingInvalidation
from brain.tokens import token_create

from .conftest import redis_url

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
    assert (ready.status, ready.json()["status"], ready.seconds < 1) == (200, "degraded", True)
    # Requests that waited for Redis's socket timeout (0.25 s): the probes only.
    waited = [reply.seconds for reply in down if reply.seconds >= 0.25]
    assert len(waited) <= 6, waited


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
