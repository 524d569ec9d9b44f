"""A committed write's invalidation survives Redis being unreachable at commit: it is kept in
PostgreSQL and applied before any cached entry is trusted again."""

from contextlib import contextmanager

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings

from brain import invalidation
from brain.api.authentication import TOKEN_REVOKED_SECONDS, token_cache_key
from brain.models import APIToken, PendingInvalidation
from events.models import SystemEvent

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def redis_unreachable():
    """Every cache call of the block goes to a closed port."""
    closed = {"default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}}
    with override_settings(CACHES=closed):
        yield


def lease_lapses():
    """What an outage longer than the lease leaves in Redis: no lease."""
    cache.delete(invalidation.LEASE_KEY)


@pytest.fixture
def event():
    return SystemEvent.objects.create(event_type="deploy", severity="info", message="before")


def test_an_update_during_an_outage_is_never_read_stale_afterwards(
    api_client, staff_client, event, django_capture_on_commit_callbacks
):
    assert api_client.get(f"/api/events/{event.pk}").json()["message"] == "before"  # cached
    with redis_unreachable(), django_capture_on_commit_callbacks(execute=True):
        response = staff_client.patch(f"/api/events/{event.pk}", {"message": "after"})
    assert response.status_code == 200
    assert PendingInvalidation.objects.count() == 1
    lease_lapses()

    reads = [api_client.get(f"/api/events/{event.pk}").json()["message"] for _ in range(2)]

    assert reads == ["after", "after"]
    assert not PendingInvalidation.objects.exists()  # applied, then deleted


def test_stats_and_type_pages_written_during_an_outage_are_not_served_afterwards(
    api_client, event, django_capture_on_commit_callbacks
):
    api_client.get("/api/events/stats")
    api_client.get("/api/events/type/deploy")
    with redis_unreachable(), django_capture_on_commit_callbacks(execute=True):
        api_client.post(
            "/api/events", {"event_type": "deploy", "severity": "error", "message": "m"}
        )
    lease_lapses()

    stats = api_client.get("/api/events/stats").json()
    page = api_client.get("/api/events/type/deploy").json()

    assert stats["total"] == 2
    assert stats["by_severity"]["error"] == 1
    assert page["count"] == 2


def test_a_token_deleted_during_an_outage_does_not_authenticate_afterwards(
    api_client, user, django_capture_on_commit_callbacks
):
    assert api_client.get("/api/auth/me").status_code == 200  # the lookup is cached
    with redis_unreachable(), django_capture_on_commit_callbacks(execute=True):
        APIToken.objects.filter(user=user).delete()
    lease_lapses()

    response = api_client.get("/api/auth/me")

    assert response.status_code == 401


def test_a_user_deactivated_during_an_outage_does_not_authenticate_afterwards(
    api_client, user, django_capture_on_commit_callbacks
):
    assert api_client.get("/api/auth/me").status_code == 200
    with redis_unreachable(), django_capture_on_commit_callbacks(execute=True):
        user.is_active = False
        user.save()
    lease_lapses()

    assert api_client.get("/api/auth/me").status_code == 401
    assert (
        api_client.post("/api/events", {"event_type": "x", "severity": "info"}).status_code == 401
    )


def test_a_reader_without_the_lease_applies_what_is_pending_before_serving(api_client, event):
    api_client.get(f"/api/events/{event.pk}")
    # A stale entry, and the invalidation of it that a writer could not get to Redis.
    cache.set(f"events:id:{event.pk}", ((0, 0), b'{"stale": true}'), 300)
    pending = invalidation.Invalidation(
        counters=["events:stats:gen"], stamped={f"events:id:{event.pk}:gen": 600}
    )
    PendingInvalidation.objects.create(operations=pending.as_json())
    lease_lapses()

    response = api_client.get(f"/api/events/{event.pk}")

    assert response.json()["message"] == "before"
    assert 0 < cache.ttl(invalidation.LEASE_KEY) <= invalidation.LEASE_SECONDS
    assert not PendingInvalidation.objects.exists()
    assert api_client.get(f"/api/events/{event.pk}").content == response.content


def test_one_worker_drains_at_a_time():
    cache.add(invalidation.DRAIN_LOCK_KEY, 1, 10)  # another worker is draining
    lease_lapses()

    assert invalidation.drain() is False
    assert cache.get(invalidation.LEASE_KEY) is None


def test_a_lookup_read_before_a_revocation_cannot_be_cached_after_it(
    api_client, user, django_capture_on_commit_callbacks
):
    key = token_cache_key(APIToken.objects.get(user=user).digest)
    assert api_client.get("/api/auth/me").status_code == 200
    stale = cache.get(key)  # what a request that read the token a moment earlier would store
    with django_capture_on_commit_callbacks(execute=True):
        user.is_active = False
        user.save()

    # CachedTokenAuthentication stores a lookup with add(): the revocation stands.
    assert cache.add(key, stale, 300) is False
    assert api_client.get("/api/auth/me").status_code == 401
    assert 0 < cache.ttl(key) <= TOKEN_REVOKED_SECONDS


def test_a_drain_releases_only_its_own_lock(monkeypatch):
    lease_lapses()
    # Another worker takes the lock once this drain's has expired, while this drain still runs.
    monkeypatch.setattr(
        invalidation, "_run", lambda *args, **kwargs: cache.set(invalidation.DRAIN_LOCK_KEY, 7, 10)
    )

    invalidation.drain()

    assert cache.get(invalidation.DRAIN_LOCK_KEY) == 7


def test_an_invalidation_no_replica_acknowledged_is_applied_and_kept_for_a_drain(
    api_client, staff_client, event, django_capture_on_commit_callbacks
):
    """This Redis has no replica: with REDIS_WAIT_REPLICAS=1 the master applies the invalidation,
    and, no replica having acknowledged it, it is also kept in PostgreSQL (a failover could lose
    it)."""
    assert api_client.get(f"/api/events/{event.pk}").json()["message"] == "before"  # cached
    with (
        override_settings(REDIS_WAIT_REPLICAS=1, REDIS_WAIT_MILLISECONDS=10),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = staff_client.patch(f"/api/events/{event.pk}", {"message": "after"})

    assert response.status_code == 200
    assert api_client.get(f"/api/events/{event.pk}").json()["message"] == "after"
    assert PendingInvalidation.objects.count() == 1
    lease_lapses()
    assert api_client.get(f"/api/events/{event.pk}").json()["message"] == "after"
    assert not PendingInvalidation.objects.exists()  # applied again, then deleted
