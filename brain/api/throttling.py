"""Rate limits as fixed-window counters: one atomic INCR per request.

DRF's own throttles keep the timestamp of every request in the window as a pickled list, read
and written back on each request (two round trips, and a list of up to `num_requests` floats at
the user rate's 6000/min). A counter per window costs one INCR. The price is the usual fixed-window
one: a client may send up to twice the rate across a window boundary. With the cache down a
request is allowed (the cache degrades to a miss, never to an error). On views with
`ReadAheadMixin` the user's INCR usually travels with the token lookup (brain.api.readahead).
"""

from django.core.cache import cache as default_cache
from rest_framework import throttling

from . import readahead
from .authentication import request_token_user


class FixedWindowThrottleMixin:
    """allow_request() and wait() of SimpleRateThrottle, as a counter per window."""

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_ends_at = (window + 1) * self.duration
        key = self._window_key(self.key, self.now)
        count = readahead.of(request).take_count(key)
        if count is None:
            try:
                count = self.cache.incr(key)
            except ValueError:  # the window's first request, or a concurrent one added it first
                count = 1 if self.cache.add(key, 1, self.duration) else self.cache.incr(key)
        return count is None or count <= self.num_requests

    def _window_key(self, key, now):
        return f"{key}:w{int(now // self.duration)}"

    def wait(self):
        return max(self.window_ends_at - self.now, 0)


class AnonRateThrottle(FixedWindowThrottleMixin, throttling.AnonRateThrottle):
    """Anonymous requests, per client IP, at THROTTLE_RATE_ANON."""


class UserRateThrottle(FixedWindowThrottleMixin, throttling.UserRateThrottle):
    """Authenticated requests, per user, at THROTTLE_RATE_USER."""

    def read_ahead_counter(self, request):
        """This window's counter of the user whose token the request carries, when this process
        has authenticated that token before (brain.api.readahead); else None, and the request is
        counted after authentication."""
        if self.rate is None or self.cache is not default_cache:
            return None
        user_pk = request_token_user(request)
        if user_pk is None:
            return None
        key = self.cache_format % {"scope": self.scope, "ident": user_pk}
        return self._window_key(key, self.timer()), self.duration
