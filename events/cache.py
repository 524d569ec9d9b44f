"""Cache keys, TTLs and invalidation of the events API.

Keys, as Redis shows them under the `brain:` prefix:

    events:id:{id}               one event's JSON body                           300 s
    events:type:{type}:{hash}    one page of a type's list (hash of its URL)       60 s
    events:stats                 statistics, unfiltered                            30 s
    events:stats:{hash}          statistics with filters (hash of the filters)     30 s

and the generations that invalidate them:

    events:id:{id}:gen       set by a write of that event (see below)                 600 s
    events:type:{type}:gen   set by a write that touches an event of that type        120 s
    events:id:gen            bumped when the events written are unknown              no TTL
                             (QuerySet.update) or more than MAX_EVENT_GENERATIONS
    events:type:gen          bumped when the types touched are unknown (purge)       no TTL
    events:stats:gen         bumped by every write                                   no TTL

Every entry is stored with the generations read, in the same MGET, before its body was computed,
and is served only while they are still current: a write bumps them instead of scanning keys,
and a body computed from rows read before a concurrent write can never be served after it.
An event's or a type's own generation is set to the write's new stats generation, a counter that
never repeats, and expires after twice the TTL of the entries it guards (longer than an entry's
TTL plus any request's computation): a written event or a new free-text type leaves no key behind
for long, and a generation can never come back to a value an old entry was stored with. The keys
without a TTL are four, whatever the data. Bodies are the exact bytes of the JSON response.

A body is always computed from the primary, even in a request that reads from a replica
(brain.db.replicas): a replica may not have replayed the write whose generation the body would be
stored under, and would then be served as current until the entry expires.

Every write path schedules `invalidate_after_commit`, done after commit in one Redis round trip
(brain.invalidation: a Lua script, which also publishes to EVENTS_CHANGED_CHANNEL); the ORM's
QuerySet.delete() and each purge batch pool theirs (`pooled_invalidation`), so deleting many rows
costs one script call. An entry is served only while the cache lease is alive (read in the same
MGET). The lease is set only by a drain that has applied every invalidation kept in PostgreSQL
(one that could not reach Redis) before it took its lock, and expires with that lock
(brain.invalidation): so such an invalidation takes effect at most LEASE_SECONDS (2 s) after it
was kept, even when a drain's script call reaches Redis late. With Redis down every read is a
miss: the API answers from PostgreSQL.
"""

import hashlib
import logging
import time
from contextlib import contextmanager
from contextvars import ContextVar
from urllib.parse import quote

from django.core.cache import cache
from django.db import transaction

from brain import invalidation
from brain.db.replicas import primary_reads

logger = logging.getLogger(__name__)

EVENT_TTL = 300
EVENT_GENERATION_TTL = 2 * EVENT_TTL
# A transaction writing more events than this bumps the all-events generation instead of one
# generation key per event (a purge batch would otherwise leave thousands of keys).
MAX_EVENT_GENERATIONS = 1000
TYPE_TTL = 60
TYPE_GENERATION_TTL = 2 * TYPE_TTL
STATS_TTL = 30

# Stats recompute: one worker computes while the others wait for its result, at most this long.
STATS_LOCK_TTL = 10
STATS_WAIT_SECONDS = 5.0
STATS_POLL_SECONDS = 0.05

STATS_GENERATION_KEY = "events:stats:gen"
ALL_EVENTS_GENERATION_KEY = "events:id:gen"
ALL_TYPES_GENERATION_KEY = "events:type:gen"
# The Redis channel each events invalidation publishes to, in the same script call: it wakes the
# live stream's readers (events.stream.hub) at once after the commit.
EVENTS_CHANGED_CHANNEL = "events:changed"


def _quoted(event_type):
    # A type is free text: quoting keeps `:` and spaces from blurring the key's fields.
    return quote(event_type, safe="")


def variant_hash(text):
    """Short stable hash of the parts of a request that change a cached body."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def stats_variant(filters):
    """The variant of the statistics for these (name, value) filters: "" without filters."""
    return variant_hash(repr(filters)) if filters else ""


def event_key(event_id):
    return f"events:id:{event_id}"


def event_generation_key(event_id):
    return f"events:id:{event_id}:gen"


def events_type_key(event_type, variant):
    return f"events:type:{_quoted(event_type)}:{variant}"


def events_type_generation_key(event_type):
    return f"events:type:{_quoted(event_type)}:gen"


def events_stats_key(variant=""):
    return f"events:stats:{variant}" if variant else "events:stats"


def event_body_keys(event_id):
    """The keys event_body() reads: the body, then its generations."""
    return [event_key(event_id), ALL_EVENTS_GENERATION_KEY, event_generation_key(event_id)]


def type_page_keys(event_type, variant):
    """The keys type_page_body() reads: the page, then its generations."""
    return [
        events_type_key(event_type, variant),
        ALL_TYPES_GENERATION_KEY,
        events_type_generation_key(event_type),
    ]


def stats_body_keys(variant):
    """The keys stats_body() reads: the statistics, then their generation."""
    return [events_stats_key(variant), STATS_GENERATION_KEY]


def event_body(event_id, compute):
    """The cached body of one event, or `compute()`'s, cached for EVENT_TTL. `compute` returns
    bytes, or None (not found, not cached). One MGET on a hit."""
    return _generational_body(event_body_keys(event_id), EVENT_TTL, compute)


def type_page_body(event_type, variant, compute):
    """One cached page of a type's list, or `compute()`'s, cached for TYPE_TTL."""
    return _generational_body(type_page_keys(event_type, variant), TYPE_TTL, compute)


def stats_body(variant, compute):
    """Cached statistics, or `compute()`'s, cached for STATS_TTL; only one recompute per key runs
    at a time (the others wait for its result)."""
    return _generational_body(stats_body_keys(variant), STATS_TTL, compute, single_flight=True)


def _generational_body(keys, ttl, compute, single_flight=False):
    key, *generation_keys = keys
    # What is stored is served as current under the generations read: it is read from the
    # primary, never from a replica that may not have replayed the write that set them.
    compute = primary_reads()(compute)
    found = cache.get_many([*keys, invalidation.LEASE_KEY]) or {}
    found = invalidation.trusted_values(keys, found)
    if found is None:  # nothing in the cache may be served now
        return compute()
    generations = tuple(found.get(name, 0) for name in generation_keys)
    entry = found.get(key)
    if entry is not None and entry[0] == generations:
        return entry[1]
    if single_flight:
        return _compute_once(key, generations, ttl, compute)
    body = compute()
    if body is not None:
        cache.set(key, (generations, body), ttl)
    return body


def _compute_once(key, generations, ttl, compute):
    """Takes the key's lock and computes, or waits for the worker holding it. Falls back to
    computing when the lock holder is gone, the wait is over, or Redis is down."""
    lock_key = f"{key}:lock"
    if cache.add(lock_key, 1, STATS_LOCK_TTL):
        try:
            body = compute()
            cache.set(key, (generations, body), ttl)
            return body
        finally:
            cache.delete(lock_key)
    deadline = time.monotonic() + STATS_WAIT_SECONDS
    while True:
        found = cache.get_many([key, lock_key]) or {}
        entry = found.get(key)
        if entry is not None and entry[0] == generations:
            return entry[1]
        if lock_key not in found or time.monotonic() >= deadline:
            break
        time.sleep(STATS_POLL_SECONDS)
    body = compute()
    cache.set(key, (generations, body), ttl)
    return body


class _Invalidation:
    """One pending invalidation: the events, types and flags gathered before a commit."""

    def __init__(self):
        self.event_ids = set()
        self.event_types = set()
        self.all_types = False
        self.all_events = False

    def __bool__(self):
        return bool(self.event_ids or self.event_types or self.all_types or self.all_events)

    def add(self, *, event_ids, event_types, all_types, all_events):
        self.event_ids.update(event_ids)
        self.event_types.update(event_types)
        self.all_types = self.all_types or all_types
        self.all_events = self.all_events or all_events

    def __call__(self):
        counter_keys = [STATS_GENERATION_KEY]
        type_keys = []
        if self.all_types:
            counter_keys.append(ALL_TYPES_GENERATION_KEY)
        else:
            type_keys = [events_type_generation_key(t) for t in sorted(self.event_types)]
        event_ids = sorted(self.event_ids)
        if self.all_events or len(event_ids) > MAX_EVENT_GENERATIONS:
            counter_keys.append(ALL_EVENTS_GENERATION_KEY)
            event_ids = []
        event_keys = [event_generation_key(event_id) for event_id in event_ids]
        stamped = dict.fromkeys(event_keys, EVENT_GENERATION_TTL)
        stamped.update(dict.fromkeys(type_keys, TYPE_GENERATION_TTL))
        invalidation.apply(
            invalidation.Invalidation(
                counters=counter_keys, stamped=stamped, publish=[EVENTS_CHANGED_CHANNEL]
            )
        )


# The invalidation that calls inside a `pooled_invalidation()` block add to (per thread or task).
_pool = ContextVar("events_invalidation_pool", default=None)


@contextmanager
def pooled_invalidation():
    """Pools the invalidate_after_commit() calls made inside the block into one, scheduled when
    the block exits, so a QuerySet.delete() of many rows, whose post_delete receivers each call
    it, costs one script call at commit. Nested blocks join the outermost. The block should hold
    one atomic write: a savepoint rolled back inside it still has its invalidation done, which is
    harmless (an entry is recomputed), never the opposite."""
    if _pool.get() is not None:
        yield
        return
    pending = _Invalidation()
    token = _pool.set(pending)
    try:
        yield
    finally:
        _pool.reset(token)
        if pending:
            transaction.on_commit(pending, robust=True)


def invalidate_after_commit(*, event_ids=(), event_types=(), all_types=False, all_events=False):
    """Schedules the invalidation of these events (or every event), these types' lists (or every
    type's) and the stats, to run when the current transaction commits (at once outside a
    transaction); inside a `pooled_invalidation()` block, adds them to the block's.

    Each schedule is one transaction.on_commit callback, so a rolled-back savepoint or
    transaction drops its invalidation with it, as Django documents.
    """
    pending = _pool.get()
    invalidation = _Invalidation() if pending is None else pending
    invalidation.add(
        event_ids=event_ids, event_types=event_types, all_types=all_types, all_events=all_events
    )
    if pending is None:
        transaction.on_commit(invalidation, robust=True)
