"""Brain's Lua scripts and the Redis client they run on.

Two pieces of work take one Redis round trip each instead of several: the reads an API request
starts with (READ_AHEAD, brain.api.views.ReadAheadMixin) and a write's cache invalidation
(INVALIDATE, events.cache). Each is a Lua script, registered once per process with redis-py's
`register_script` (EVALSHA; redis-py loads the script again when Redis has forgotten it). Both
need the cache to be django-redis's (`is_redis`).
"""

import functools

from django_redis import get_redis_connection
from django_redis.cache import RedisCache

# KEYS[1]: a cached token lookup; KEYS[2]: that token's rate-limit counter, incremented (created
# at 0 with ARGV[1] seconds to live; no counter when ARGV[1] is 0) only when the lookup is cached,
# so that an unknown token makes no counter; KEYS[3...]: the cached body the view will serve and
# its generations. Returns {lookup, count or nil, values of KEYS[3...]}.
READ_AHEAD = """
local lookup = redis.call('GET', KEYS[1])
local count = false
if lookup and tonumber(ARGV[1]) > 0 then
    redis.call('SET', KEYS[2], 0, 'EX', ARGV[1], 'NX')
    count = redis.call('INCR', KEYS[2])
end
local values = {}
if #KEYS > 2 then
    values = redis.call('MGET', unpack(KEYS, 3))
end
return {lookup, count, values}
"""

# KEYS: ARGV[1] generation counters to increment (the first one's new value is the stamp), then
# ARGV[2] generations set to the stamp for ARGV[3] seconds, then the rest set to the stamp for
# ARGV[4] seconds.
INVALIDATE = """
local counters = tonumber(ARGV[1])
local first_stamped = tonumber(ARGV[2])
local stamp = 0
for i = 1, counters do
    local value = redis.call('INCR', KEYS[i])
    if i == 1 then stamp = value end
end
for i = counters + 1, #KEYS do
    local ttl = ARGV[3]
    if i > counters + first_stamped then ttl = ARGV[4] end
    redis.call('SET', KEYS[i], stamp, 'EX', ttl)
end
return stamp
"""


def is_redis(cache):
    """True when `cache` is django-redis's (else the scripts cannot run on it)."""
    return isinstance(cache, RedisCache)


@functools.cache
def script(source):
    """The registered script of `source`: its SHA1 is worked out once per process."""
    return get_redis_connection("default").register_script(source)
