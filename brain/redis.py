"""Brain's Lua scripts and the Redis client they run on.

A write's cache invalidation takes one Redis round trip instead of several, the publication that
wakes the readers of a change included (INVALIDATE, brain.invalidation); ACQUIRE_SLOT takes one
of a user's heavy-request slots (brain.api.heavy), and RELEASE frees a lock or a slot only for
its holder. Each is a Lua script, registered once per process with redis-py's `register_script`
(EVALSHA; redis-py loads the script again when Redis has forgotten it).

With REDIS_SENTINELS set, every client here reaches the master that Sentinel names now: the
cache's through django-redis's Sentinel connection factory, the stream's through redis-py's
asyncio Sentinel client (`subscribed`).
"""

import contextlib
import functools

import redis.asyncio
import redis.asyncio.sentinel
from django.conf import settings
from django_redis import get_redis_connection
from redis.connection import parse_url
from redis.exceptions import RedisError

# KEYS: ARGV[1] counters to increment (the first one's new value is the stamp, 0 without
# counters), ARGV[2] keys set to the stamp (each for the seconds given in ARGV[4...]), then the
# cache lease and the drain lock (brain.invalidation). When ARGV[3] is not empty and the drain
# lock still holds that value, the lease is renewed until the lock expires: a call that reaches
# Redis after its drain's lock is gone renews nothing. The arguments after the TTLs name channels
# the stamp is published to.
# Returns the lease's remaining milliseconds (negative when it is gone). The invalidations are
# replicated; the lease is not.
INVALIDATE = """
local counters = tonumber(ARGV[1])
local stamped = tonumber(ARGV[2])
local stamp = 0
for i = 1, counters do
    local value = redis.call('INCR', KEYS[i])
    if i == 1 then stamp = value end
end
for i = 1, stamped do
    redis.call('SET', KEYS[counters + i], stamp, 'EX', ARGV[3 + i])
end
for i = 4 + stamped, #ARGV do
    redis.call('PUBLISH', ARGV[i], stamp)
end
local lease = KEYS[counters + stamped + 1]
local lock = KEYS[counters + stamped + 2]
if ARGV[3] ~= '' and redis.call('GET', lock) == ARGV[3] then
    local left = redis.call('PTTL', lock)
    if left > 0 then
        -- The lease stays on this server: neither a replica nor the append-only file gets it, so
        -- a promoted replica, or a server restarted from its file, holds no lease until a drain
        -- has applied the invalidations that missed it.
        redis.set_repl(redis.REPL_NONE)
        redis.call('SET', lease, 1, 'PX', left)
    end
end
return redis.call('PTTL', lease)
"""


# KEYS[1]: a lock; ARGV[1]: the value its holder set. Deletes the lock only if it is still that
# holder's (a holder that outlived the lock's TTL must not release its successor's).
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


# KEYS: one user's heavy-request slots (brain.api.heavy); ARGV[1]: the value of the request taking
# one, ARGV[2]: the seconds a slot lives. Takes the first free slot and returns its number (from
# 1), or 0 when every slot is held. Each slot expires on its own, so one left by a worker that
# died frees itself whatever its user does meanwhile.
ACQUIRE_SLOT = """
for i = 1, #KEYS do
    if redis.call('SET', KEYS[i], ARGV[1], 'NX', 'EX', ARGV[2]) then
        return i
    end
end
return 0
"""


@functools.cache
def _registered(source):
    # register_script works out the script's SHA1: once per process.
    return get_redis_connection("default").register_script(source)


def run(source, *, keys, args):
    """Runs the script `source` (EVALSHA) on the default cache's Redis, with `keys` (full Redis
    keys, prefix included) and `args`. Raises redis-py's errors."""
    return _registered(source)(keys=keys, args=args, client=get_redis_connection("default"))


def run_replicated(source, *, keys, args, replicas, milliseconds):
    """Runs the script `source` as run() does, then waits on the same connection (WAIT) until
    `replicas` replicas have its writes, at most `milliseconds`. Returns the script's result;
    raises RedisError when fewer replicas acknowledged them in time (the master has them: what
    fails is the promise that a failover keeps them)."""
    pipeline = get_redis_connection("default").pipeline(transaction=False)
    _registered(source)(keys=keys, args=args, client=pipeline)
    pipeline.wait(replicas, milliseconds)
    result, acknowledged = pipeline.execute()
    if acknowledged < replicas:
        raise RedisError(f"{acknowledged} of {replicas} replicas acknowledged in time.")
    return result


@contextlib.asynccontextmanager
async def subscribed(channel):
    """An asyncio PubSub of the cache's Redis, subscribed to `channel`: on REDIS_URL's server, or
    with REDIS_SENTINELS on the master that Sentinel names when it connects. Every connection it
    opened, to the Sentinels too, is closed at exit. No socket timeout once connected: a
    subscription waits for messages as long as it lives."""
    if settings.REDIS_SENTINELS:
        options = parse_url(settings.REDIS_URL)
        sentinel = redis.asyncio.sentinel.Sentinel(
            settings.REDIS_SENTINELS,
            sentinel_kwargs={
                "socket_connect_timeout": settings.REDIS_CONNECT_TIMEOUT,
                "socket_timeout": settings.REDIS_SOCKET_TIMEOUT,
            },
        )
        client = sentinel.master_for(
            options["host"],
            db=options.get("db", 0),
            username=options.get("username"),
            password=options.get("password"),
            socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT,
        )
        clients = [client, *sentinel.sentinels]
    else:
        client = redis.asyncio.from_url(settings.REDIS_URL)
        clients = [client]
    try:
        async with client.pubsub() as pubsub:
            await pubsub.subscribe(channel)
            yield pubsub
    finally:
        for each in clients:
            await each.aclose(close_connection_pool=True)
