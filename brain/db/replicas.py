"""Reads from streaming replicas, with read-your-writes.

With DATABASE_REPLICAS set, brain.middleware.ReplicaMiddleware gives each request that may read
from a replica one of them, chosen at random: a GET, HEAD or OPTIONS whose client is not pinned
to the primary. For that request ReplicaRouter sends the reads of DATABASE_REPLICA_APPS' models
to it. Every write, every `select_for_update()`, every other read, and everything outside such a
request (the scheduler, the live stream, management commands, migrations) uses the primary. Once
a request writes one of those models, its later reads use the primary too.

A request that wrote (an unsafe method, or a write of one of those models through the ORM) pins its
client to the primary for REPLICA_PIN_SECONDS: a client sending `Authorization` by a Redis key
derived from that header (PIN_KEY), set as an invalidation is (brain.invalidation), so an outage of
Redis does not lose it: until Redis holds the cache lease again, every such client reads the
primary. Any other client is pinned by a cookie (PIN_COOKIE), as django-multidb-router does.
"""

import hashlib
import random
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS
from rest_framework.permissions import SAFE_METHODS

from brain import invalidation

PIN_COOKIE = "brain_primary"
PIN_KEY = "replicas:pin:{client}"


@dataclass
class Reads:
    """Where one request's reads go: `replica` (an alias) until the request writes, else the
    primary."""

    replica: str | None = None
    wrote: bool = False


_reads = ContextVar("brain_replica_reads", default=None)


@contextmanager
def reading(reads):
    """Routes the block's reads as `reads` says (None: the primary)."""
    token = _reads.set(reads)
    try:
        yield reads
    finally:
        _reads.reset(token)


def primary_reads():
    """Context manager (or decorator): every read of the block uses the primary, so what it
    computes may be cached as current."""
    return reading(None)


def replica_alias():
    """The replica the current reads go to, or None when they go to the primary."""
    reads = _reads.get()
    return None if reads is None or reads.wrote else reads.replica


class ReplicaRouter:
    """Reads of DATABASE_REPLICA_APPS' models go to the replica of the current request, if any;
    everything else to the primary. Migrations run on the primary only."""

    def db_for_read(self, model, **hints):
        alias = replica_alias()
        if alias is not None and model._meta.app_label in settings.DATABASE_REPLICA_APPS:
            return alias
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints):
        # Only a write a replica could be behind on counts (a token's last use does not).
        reads = _reads.get()
        if reads is not None and model._meta.app_label in settings.DATABASE_REPLICA_APPS:
            reads.wrote = True
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        # A replica holds the primary's rows: an object read from one relates to any other.
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS


def pin_key(authorization):
    """The cache key of the pin of the client sending this Authorization header."""
    return PIN_KEY.format(client=hashlib.sha256(authorization.encode()).hexdigest()[:32])


def request_reads(request):
    """Where `request`'s reads go: a replica chosen at random for a GET, HEAD or OPTIONS whose
    client is not pinned, else the primary."""
    replica = None
    if request.method in SAFE_METHODS and not _pinned(request):
        replica = random.choice(settings.DATABASE_REPLICAS)
    return Reads(replica=replica)


def _pinned(request):
    """Whether the client wrote in the last REPLICA_PIN_SECONDS, or, for a pin kept in Redis,
    whether Redis cannot tell now."""
    if PIN_COOKIE in request.COOKIES:
        return True
    authorization = request.META.get("HTTP_AUTHORIZATION")
    if not authorization:
        return False
    key = pin_key(authorization)
    found = invalidation.trusted_values([key], cache.get_many([key, invalidation.LEASE_KEY]))
    return found is None or key in found


def pin_client(request, response):
    """Pins the client of `request`, which wrote, to the primary for REPLICA_PIN_SECONDS: by its
    Authorization header when it sent one, else by a cookie on `response`."""
    seconds = settings.REPLICA_PIN_SECONDS
    authorization = request.META.get("HTTP_AUTHORIZATION")
    if authorization:
        invalidation.apply(invalidation.Invalidation(stamped={pin_key(authorization): seconds}))
    else:
        response.set_cookie(
            PIN_COOKIE,
            "1",
            max_age=seconds,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
