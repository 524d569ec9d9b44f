"""Cache key layout shared by every app.

Redis keys read `<prefix>:<key>` (`brain:events:id:42`), so a key in Redis begins with the name the
API documents; a cache version other than the default 1 is kept in the key.
"""


def make_key(key, key_prefix, version):
    """Django KEY_FUNCTION: `prefix:key`, or `prefix:v<version>:key` for non-default versions."""
    if version == 1:
        return f"{key_prefix}:{key}"
    return f"{key_prefix}:v{version}:{key}"
