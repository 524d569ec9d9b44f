"""Rate limits as fixed-window counters: one atomic INCR per request.

DRF's own throttles keep the timestamp of every request in the window as a pickled list, read
and written back on each request (two round trips, and a list of up to `num_requests` floats at
the user rate's 6000/min). A counter per window costs one INCR. The price is the usual fixed-window
one: a client may send up to twice the rate across a window boundary. With the cache down a
request is allowed (the cache degrades to a miss, never to an error), and so it is while the cache
answers reads but refuses writes.
"""

from django.conf import settings
from rest_framework import throttling

from brain.cache import count as cache_counter
from brain.context import client_ip


class FixedWindowThrottleMixin:
    """allow_request() and wait() of SimpleRateThrottle, as a counter per window."""

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        self.window_ends_at = (int(self.now // self.duration) + 1) * self.duration
        key = f"{self.key}:w{int(self.now // self.duration)}"
        count = cache_counter(self.cache, key, self.duration)
        return count is None or count <= self.num_requests

    def get_ident(self, request):
        """The client's address as the audit and the logs see it (brain.context.client_ip, from
        TRUSTED_PROXY_COUNT): a header the client writes cannot get round the limit."""
        return client_ip(request, settings.TRUSTED_PROXY_COUNT) or ""

    def wait(self):
        return max(self.window_ends_at - self.now, 0)


class AnonRateThrottle(FixedWindowThrottleMixin, throttling.AnonRateThrottle):
    """Anonymous requests, per client IP, at THROTTLE_RATE_ANON."""


class UserRateThrottle(FixedWindowThrottleMixin, throttling.UserRateThrottle):
    """Authenticated requests, per user, at THROTTLE_RATE_USER."""
