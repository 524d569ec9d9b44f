"""Read-ahead: the Redis work an API request is sure to do, done in one round trip as it starts.

A cached `GET /api/events/{id}` needs three things from Redis: the token's user, the rate-limit
counter and the cached body with its generations. Asked for one after the other they cost three
round trips, more than all the rest of the request (docs/benchmarks.md, "Events"). A view with
`ReadAheadMixin` asks for all of them in one round trip (a Lua script) before DRF authenticates
the request:

- its authentication classes name the keys they will read (`read_ahead_keys(request)`: the cached
  token lookup);
- its throttles name the counter they will increment (`read_ahead_counter(request)`: the user's
  window, when the token's user is known);
- the view names the keys of its cached body (`read_ahead_keys(request)`, empty by default).

Each of them then takes its value from `request.read_ahead` instead of asking Redis again, and
asks Redis itself for anything that was not read ahead. With a cache that is not django-redis, or
Redis unreachable, nothing is read ahead: every part goes to the cache as it would without this.
"""

import logging

from django.core.cache import cache
from redis.commands.core import Script
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


class ReadAhead:
    """The values read ahead (cache key -> value; a key read but absent is known to be a miss)
    and the counters incremented (cache key -> new count)."""

    def __init__(self, values=None, read=(), counts=None):
        self._values = values or {}
        self._read = frozenset(read)
        self._counts = counts or {}

    def get_many(self, keys):
        """`cache.get_many(keys)` when all of `keys` were read ahead, else None."""
        if not self._read.issuperset(keys):
            return None
        return {key: self._values[key] for key in keys if key in self._values}

    def take_count(self, key):
        """The count of the counter `key` incremented ahead, once; None when it was not."""
        return self._counts.pop(key, None)


NOTHING = ReadAhead()


def of(request):
    """The request's read-ahead (NOTHING for a view without ReadAheadMixin)."""
    return getattr(request, "read_ahead", NOTHING)


# KEYS: the ARGV[1] keys to read, then the counters to increment, each created at 0 with its TTL
# in seconds (ARGV[2], ARGV[3], ...) when missing. Returns the values read, then each new count.
_FETCH_SCRIPT = """
local read = tonumber(ARGV[1])
local result = {}
if read > 0 then
    result[1] = redis.call('MGET', unpack(KEYS, 1, read))
else
    result[1] = {}
end
for i = read + 1, #KEYS do
    redis.call('SET', KEYS[i], 0, 'EX', ARGV[i - read + 1], 'NX')
    result[#result + 1] = redis.call('INCR', KEYS[i])
end
return result
"""
# Made once: redis-py works out a script's SHA1 each time one is made (register_script()).
# One EVALSHA costs the worker half the CPU of the same commands sent as a pipeline.
_FETCH = Script(None, _FETCH_SCRIPT.encode())


def fetch(keys, counters):
    """Reads `keys` and increments the rate-limit `counters` ((key, ttl): a counter is created
    at 0 with its ttl, then incremented), in one Redis round trip (a Lua script)."""
    client = getattr(cache, "client", None)
    if not (keys or counters) or not hasattr(client, "get_client"):
        return NOTHING
    redis_keys = [cache.make_key(key) for key in [*keys, *(key for key, _ in counters)]]
    try:
        # EVALSHA, with SCRIPT LOAD only the first time Redis does not know the script.
        values, *counts = _FETCH(
            keys=redis_keys,
            args=[len(keys), *(ttl for _, ttl in counters)],
            client=client.get_client(write=True),
        )
    except (RedisError, OSError):
        logger.warning("read-ahead skipped, Redis unreachable", exc_info=True)
        return NOTHING
    found = {key: client.decode(value) for key, value in zip(keys, values) if value is not None}
    return ReadAhead(found, keys, {key: count for (key, _), count in zip(counters, counts)})


class ReadAheadMixin:
    """For DRF views: the request's Redis reads and rate-limit counters in one round trip, done
    before authentication (see the module's docstring)."""

    def read_ahead_keys(self, request, *args, **kwargs):
        """The cache keys this request's view will read (none by default)."""
        return []

    def get_throttles(self):
        # Once per request: the read-ahead asks them for their counters, then DRF checks them.
        if "_throttles" not in self.__dict__:
            self._throttles = super().get_throttles()
        return self._throttles

    def initial(self, request, *args, **kwargs):
        keys = [
            key
            for authenticator in request.authenticators
            if hasattr(authenticator, "read_ahead_keys")
            for key in authenticator.read_ahead_keys(request)
        ]
        keys += self.read_ahead_keys(request, *args, **kwargs)
        counters = [
            counter
            for throttle in self.get_throttles()
            if hasattr(throttle, "read_ahead_counter")
            and (counter := throttle.read_ahead_counter(request)) is not None
        ]
        request.read_ahead = fetch(keys, counters)
        super().initial(request, *args, **kwargs)
