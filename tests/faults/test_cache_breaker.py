"""The cache's circuit breaker (brain.cache_breaker) on a real Redis behind the fault proxy: after
a failure no call goes to Redis until the cooldown, then one probes, and once Redis answers the
cache works again."""

import time

import pytest
from django.core.cache import CacheHandler

from brain.cache_breaker import COOLDOWN_SECONDS

from .conftest import redis_url


@pytest.fixture
def proxied_cache(redis_proxy, settings):
    config = {**settings.CACHES["default"], "LOCATION": redis_url(redis_proxy.port)}
    return CacheHandler({"default": config})["default"]


def test_after_a_failure_no_call_reaches_redis_until_one_probes(redis_proxy, proxied_cache):
    proxied_cache.set("breaker", "value", 30)
    redis_proxy.stop()

    assert proxied_cache.get("breaker") is None  # a miss, not an error: the breaker opens
    attempts = redis_proxy.accepted
    assert [proxied_cache.get("breaker") for _ in range(20)] == [None] * 20
    assert proxied_cache.set("breaker", "other", 30) is None
    assert redis_proxy.accepted == attempts  # none of them tried to connect

    time.sleep(COOLDOWN_SECONDS + 0.1)
    assert proxied_cache.get("breaker") is None  # the probe, refused: open again
    assert [proxied_cache.get("breaker") for _ in range(5)] == [None] * 5
    assert redis_proxy.accepted == attempts + 1

    redis_proxy.restore()
    time.sleep(COOLDOWN_SECONDS + 0.1)
    assert proxied_cache.get("breaker") == "value"  # the probe succeeds: closed
    assert [proxied_cache.get("breaker") for _ in range(5)] == ["value"] * 5
