"""Cache key layout shared by every app, and the counters kept in the cache.

Redis keys read `<prefix>:<key>` (`brain:events:id:42`), so a key in Redis begins with the name the
API documents; a cache version other than the default 1 is kept in the key.
"""


def make_key(key, key_prefix, version):
    """Django KEY_FUNCTION: `prefix:key`, or `prefix:v<version>:key` for non-default versions."""
    if version == 1:
        return f"{key_prefix}:{key}"
    return f"{key_prefix}:v{version}:{key}"


def count(cache, key, seconds):
    """Adds one to the counter `key` of `cache`, created to live `seconds` when it does not exist,
    and returns its new value; None when the cache cannot count: unreachable, or answering reads
    but refusing writes (a Redis master with no replica in step, `min-replicas-to-write`)."""
    try:
        return cache.incr(key)
    except ValueError:  # the window's first, or a concurrent one adds it first
        pass
    if cache.add(key, 1, seconds):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # refused to add it, and no one else did
        return None
