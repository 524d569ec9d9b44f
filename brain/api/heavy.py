"""A per-user limit on heavy requests in flight: those whose cost grows with the data they read or
send (bulk ingest, filtered statistics). One user gets at most API_HEAVY_REQUESTS_PER_USER of
them at once, so that a single user cannot hold every web worker; another is answered 429 with
Retry-After at once, before it costs anything.

Each request in flight holds one of its user's slots, a Redis key set with NX and an expiry
(brain.redis.ACQUIRE_SLOT) and deleted by its holder when the request ends (brain.redis.RELEASE).
A slot left by a worker that died expires after SLOT_SECONDS. With Redis unreachable, or a cache
that is not Redis, heavy requests are allowed: the API keeps answering.
"""

import logging
import secrets
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError
from rest_framework.exceptions import Throttled

from brain import redis

logger = logging.getLogger(__name__)

# Seconds a slot lives when its holder never frees it: longer than any heavy request runs (the
# statement timeouts and gunicorn's worker timeout end them sooner).
SLOT_SECONDS = 120
# Seconds a refused client is asked to wait: about the time a filtered statistics read takes.
RETRY_AFTER_SECONDS = 2


def slot_key(user_id, number):
    """The cache key of one of a user's slots (0 <= number < API_HEAVY_REQUESTS_PER_USER)."""
    return f"heavy:{user_id}:{number}"


@contextmanager
def heavy_request(user):
    """Holds one of `user`'s heavy-request slots for the block. Raises DRF's Throttled (a 429
    with Retry-After) when the user's every slot is held, before the block runs. One Redis round
    trip to take the slot and one to free it."""
    limit = settings.API_HEAVY_REQUESTS_PER_USER
    if limit <= 0:
        yield
        return
    keys = [cache.make_key(slot_key(user.pk, number)) for number in range(limit)]
    holder = secrets.randbits(62)
    try:
        taken = redis.run(redis.ACQUIRE_SLOT, keys=keys, args=[holder, SLOT_SECONDS])
    except (RedisError, OSError):
        logger.warning("heavy request allowed without a slot, Redis unreachable", exc_info=True)
        taken = None
    if taken == 0:
        raise Throttled(
            wait=RETRY_AFTER_SECONDS,
            detail=(
                f"Too many heavy requests: you already have {limit} in progress (bulk ingest, "
                "filtered statistics). Send this one when one of them has finished."
            ),
        )
    try:
        yield
    finally:
        if taken:
            try:
                redis.run(redis.RELEASE, keys=[keys[taken - 1]], args=[holder])
            except (RedisError, OSError):
                logger.warning("heavy-request slot left to expire, Redis unreachable")
