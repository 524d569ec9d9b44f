"""Cache invalidation that is never lost to a Redis outage.

A write's invalidation (generations to bump, token lookups to revoke) runs in Redis after commit
(`apply`). When Redis cannot be reached, the invalidation is kept in PostgreSQL
(PendingInvalidation) instead of being dropped, and `drain()` applies it once Redis answers
again.

Readers trust what Redis holds only while the cache lease is alive. Only `drain()` sets it: it
takes the drain lock (DRAIN_LOCK_KEY, for LEASE_SECONDS), reads the pending invalidations, then
applies them and renews the lease in one script call, and the lease expires with that lock. So a
live lease was set by a drain that took its lock less than LEASE_SECONDS ago and has applied
every invalidation kept before then. That holds whatever the network delays: a drain's script
call that reaches Redis late (a delayed packet) renews the lease at most until its lock expires,
and not at all once the lock has gone. So an invalidation kept in PostgreSQL takes effect for
every read that reaches Redis more than LEASE_SECONDS after it was kept. (While PostgreSQL is
unreachable, and no write can commit, a drain renews the lease without the rows: `drain()`.)
A reader that finds no
lease drains (one worker at a time, waiting at most DRAIN_WAIT_SECONDS), then reads again, or
answers from PostgreSQL. Writers and readers renew the lease as it runs out (one SELECT of the
pending rows per LEASE_SECONDS, for all workers together).

Across a Sentinel failover: the lease is never replicated, so the promoted replica holds none and
its first reader drains before anything there is trusted; with REDIS_WAIT_REPLICAS an
invalidation counts as done only once a replica has acknowledged it, so one that the promoted
replica may lack is kept in PostgreSQL like any other that missed Redis.
"""

import logging
import secrets
import threading
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connections
from redis.exceptions import RedisError

from brain import redis

from .models import PendingInvalidation

logger = logging.getLogger(__name__)

LEASE_KEY = "cache:lease"
LEASE_SECONDS = 2
# Held by one drain at a time, for LEASE_SECONDS at most: the lease that drain sets expires with it.
DRAIN_LOCK_KEY = "cache:drain-lock"
# Pending rows one drain applies; a larger backlog takes several drains before the lease is back.
DRAIN_BATCH = 10_000
# The longest a request waits for a drain (which reads PostgreSQL) before answering without the
# cache.
DRAIN_WAIT_SECONDS = 0.3
# Set for DATABASE_RETRY_SECONDS when a drain finds PostgreSQL unreachable: the next drains renew
# the lease before reading the pending rows.
DATABASE_DOWN_KEY = "cache:database-down"
DATABASE_RETRY_SECONDS = 30


@dataclass
class Invalidation:
    """Redis operations: counters to increment (the first one's new value stamps the stamped
    keys), keys set to that stamp (an integer: 0 without counters) with a TTL, then channels
    the stamp is published to (cache keys, prefixed as keys are), which wake the readers of what
    changed."""

    counters: list[str] = field(default_factory=list)
    stamped: dict[str, int] = field(default_factory=dict)  # key -> seconds to live
    publish: list[str] = field(default_factory=list)

    def __bool__(self):
        return bool(self.counters or self.stamped or self.publish)

    def merge(self, other):
        """Adds `other`'s operations (each counter incremented once, the first kept first)."""
        self.counters += [key for key in other.counters if key not in self.counters]
        for key, ttl in other.stamped.items():
            self.stamped[key] = max(ttl, self.stamped.get(key, 0))
        self.publish += [channel for channel in other.publish if channel not in self.publish]

    def as_json(self):
        return {"counters": self.counters, "stamped": self.stamped, "publish": self.publish}


def _run(invalidation, *, lock_holder=""):
    """Runs `invalidation` in one script call; with `lock_holder` (the value of the drain lock
    taken before the pending rows were read), also renews the lease until that lock expires,
    unless the lock is no longer that holder's. Returns the lease's remaining milliseconds.
    Raises RedisError or OSError when Redis is unreachable, or when fewer than
    REDIS_WAIT_REPLICAS replicas acknowledged it in time."""
    stamped = list(invalidation.stamped.items())
    keys = [
        *invalidation.counters,
        *(key for key, _ in stamped),
        LEASE_KEY,
        DRAIN_LOCK_KEY,
    ]
    args = [
        len(invalidation.counters),
        len(stamped),
        lock_holder,
        *(ttl for _, ttl in stamped),
        *(cache.make_key(channel) for channel in invalidation.publish),
    ]
    keys = [cache.make_key(key) for key in keys]
    if settings.REDIS_WAIT_REPLICAS:
        return redis.run_replicated(
            redis.INVALIDATE,
            keys=keys,
            args=args,
            replicas=settings.REDIS_WAIT_REPLICAS,
            milliseconds=settings.REDIS_WAIT_MILLISECONDS,
        )
    return redis.run(redis.INVALIDATE, keys=keys, args=args)


def apply(invalidation):
    """Runs `invalidation` in Redis now (after the write's commit); when Redis is unreachable,
    keeps it in PostgreSQL for `drain()`. Renews the lease when it has run out."""
    if not invalidation:
        return
    try:
        lease_left = _run(invalidation)
    except (RedisError, OSError):
        logger.warning("cache invalidation kept for later, Redis unreachable", exc_info=True)
        try:
            PendingInvalidation.objects.create(operations=invalidation.as_json())
        except DatabaseError:
            logger.error("cache invalidation lost, PostgreSQL unreachable too", exc_info=True)
        return
    if lease_left <= 0:
        drain_within(DRAIN_WAIT_SECONDS)


def trusted_values(keys, found):
    """The cached values of `keys` that may be served: `found` (read with LEASE_KEY) when the lease
    was alive; else, once a drain has renewed it, the values read again with it; else None, and
    the caller answers from PostgreSQL. The drain runs in a thread of its own for at most
    DRAIN_WAIT_SECONDS of the caller's time, so a PostgreSQL that does not answer delays a request
    by no more."""
    if LEASE_KEY in found:
        return found
    drain_within(DRAIN_WAIT_SECONDS)
    found = cache.get_many([*keys, LEASE_KEY])
    return found if LEASE_KEY in found else None


def drain_within(seconds):
    """Runs `drain()` in a thread of its own (with its own database connection), waiting for it
    at most `seconds`. A drain still running then goes on and renews the lease when it ends;
    callers read the lease again to know."""

    def run():
        try:
            drain()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, name="cache-drain", daemon=True)
    thread.start()
    thread.join(seconds)


def drain():
    """Applies every pending invalidation and renews the lease, in one script call, then deletes
    the rows applied. One worker at a time: a Redis lock, taken before the rows are read, that
    lives LEASE_SECONDS, and the lease renewed expires with it (see the module). Returns True when
    the lease is alive afterwards.

    With PostgreSQL unreachable no write can commit, so the lease is renewed without the rows,
    and cached reads go on answering through the outage: while a drain found PostgreSQL
    unreachable in the last DATABASE_RETRY_SECONDS (DATABASE_DOWN_KEY, shared by every worker),
    the lease is renewed before the rows are read, so no read waits for a connection timeout."""
    holder = secrets.randbits(62)  # an integer: django-redis stores it as plain digits
    if not cache.add(DRAIN_LOCK_KEY, holder, LEASE_SECONDS):
        return False  # another worker is draining, or Redis is unreachable
    try:
        if cache.get(DATABASE_DOWN_KEY):
            try:
                _run(Invalidation(), lock_holder=holder)
            except (RedisError, OSError):
                return False
        try:
            rows = list(
                PendingInvalidation.objects.order_by("id").values_list("id", "operations")[
                    :DRAIN_BATCH
                ]
            )
        except DatabaseError:
            logger.warning("cache lease renewed without PostgreSQL", exc_info=True)
            cache.set(DATABASE_DOWN_KEY, 1, DATABASE_RETRY_SECONDS)
            rows = []
        else:
            cache.delete(DATABASE_DOWN_KEY)
        merged = Invalidation()
        for _, operations in rows:
            merged.merge(Invalidation(**operations))
        try:
            lease_left = _run(merged, lock_holder=holder if len(rows) < DRAIN_BATCH else "")
        except (RedisError, OSError):
            logger.warning("cache drain skipped, Redis unreachable", exc_info=True)
            return False
        if rows:
            try:
                PendingInvalidation.objects.filter(id__in=[row_id for row_id, _ in rows]).delete()
            except DatabaseError:  # applied again by a later drain: bumping twice is harmless
                logger.warning("applied invalidations kept, PostgreSQL unreachable", exc_info=True)
        return lease_left > 0
    finally:
        try:
            redis.run(redis.RELEASE, keys=[cache.make_key(DRAIN_LOCK_KEY)], args=[holder])
        except (RedisError, OSError):
            pass  # the lock expires after LEASE_SECONDS
