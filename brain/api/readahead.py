"""Read-ahead: the Redis reads an API request is sure to make, done in one round trip as it
starts, before DRF authenticates it.

A request carrying a token needs its cached lookup (CachedTokenAuthentication), the token's
rate-limit counter (UserRateThrottle) and, on a cached path, the body and its generations. The
project's views (brain.api.views.ReadAheadMixin) read all three with one Lua script (brain.redis)
and leave the values on the request (`of(request)`); authentication, throttling and the view take
them from there, and go to the cache themselves for anything not read ahead. With Redis
unreachable, nothing is read ahead.
"""

from dataclasses import dataclass, field

from brain.invalidation import LEASE_KEY


@dataclass(frozen=True)
class ReadAhead:
    """What was read ahead: a token's cached lookup (None: known absent), its counter after the
    increment (None: not incremented), whether the cache lease was alive (brain.invalidation),
    and the values found among the body keys."""

    token_key: str | None = None
    lookup: object = None
    lease: bool = False
    counter_key: str | None = None
    count: int | None = None
    body_keys: tuple[str, ...] = ()
    values: dict = field(default_factory=dict)

    def get_many(self, keys):
        """`cache.get_many(keys + [LEASE_KEY])` when exactly `keys` were read ahead, else None."""
        if not self.body_keys or tuple(keys) != self.body_keys:
            return None
        return {**self.values, LEASE_KEY: 1} if self.lease else self.values


NOTHING = ReadAhead()


def of(request):
    """The request's read-ahead (NOTHING for a view without ReadAheadMixin)."""
    return getattr(request, "read_ahead", NOTHING)
