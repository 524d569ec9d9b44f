"""A circuit breaker on the Redis connections of the cache, so that Redis being unreachable costs a
request almost nothing.

Without it, every cache call of a request waits its full socket timeout while Redis hangs (a
network partition, `CLIENT PAUSE`). With it, the first call that fails opens the breaker of that
Redis server for `COOLDOWN_SECONDS`: until then every call fails at once, with the same
`redis.ConnectionError` an unreachable server raises (django-redis turns it into a miss). After the
cooldown one call is let through as a probe; its success closes the breaker, its failure opens it
again. So while Redis is unreachable, one call per cooldown and per process waits the socket
timeout, and the others cost nothing.
"""

import threading
import time

from redis.connection import Connection
from redis.exceptions import ConnectionError, TimeoutError
from redis.sentinel import SentinelManagedConnection

COOLDOWN_SECONDS = 1.0


class Breaker:
    """The state of one Redis server as this process last found it."""

    def __init__(self, cooldown):
        self.cooldown = cooldown
        self._lock = threading.Lock()
        self._open_until = 0.0  # 0: closed
        self._prober = None  # the thread whose calls probe the server after a cooldown

    def before_call(self):
        """Raises ConnectionError at once while the breaker is open; after the cooldown, lets the
        calls of one thread through as the probe (another thread takes over should it stall past
        a further cooldown)."""
        if not self._open_until:
            return
        with self._lock:
            thread = threading.get_ident()
            if not self._open_until or self._prober == thread:
                return
            now = time.monotonic()
            if now < self._open_until:
                raise ConnectionError("Redis unreachable: the circuit breaker is open.")
            self._prober = thread
            self._open_until = now + self.cooldown

    def failed(self):
        with self._lock:
            self._open_until = time.monotonic() + self.cooldown
            self._prober = None

    def succeeded(self):
        if self._open_until:
            with self._lock:
                self._open_until = 0.0
                self._prober = None


_breakers = {}
_breakers_lock = threading.Lock()


def breaker_for(server):
    """The breaker of `server`: (host, port), or the name of a master that Sentinel watches."""
    with _breakers_lock:
        return _breakers.setdefault(server, Breaker(COOLDOWN_SECONDS))


class BreakerMixin:
    """Guards a redis-py connection with the breaker of its server (see the module's docstring)."""

    @property
    def breaker(self):
        return breaker_for((self.host, self.port))

    def connect(self):
        self.breaker.before_call()
        try:
            super().connect()
        except (ConnectionError, TimeoutError, OSError):
            self.breaker.failed()
            raise

    def send_packed_command(self, command, check_health=True):
        self.breaker.before_call()
        try:
            super().send_packed_command(command, check_health=check_health)
        except (ConnectionError, TimeoutError, OSError):
            self.breaker.failed()
            raise

    def read_response(self, *args, **kwargs):
        try:
            response = super().read_response(*args, **kwargs)
        except (ConnectionError, TimeoutError, OSError):
            self.breaker.failed()
            raise
        self.breaker.succeeded()
        return response


class BreakerConnection(BreakerMixin, Connection):
    """redis-py's TCP connection, guarded by the breaker of its host and port. Set as the cache's
    `CONNECTION_POOL_KWARGS["connection_class"]`."""


class SentinelBreakerConnection(BreakerMixin, SentinelManagedConnection):
    """redis-py's connection to the master that Sentinel names, guarded by one breaker per master
    name, whichever server holds the role now: after a failover the probe connects to the new
    master (redis-py asks Sentinel again on every new connection)."""

    @property
    def breaker(self):
        return breaker_for(self.connection_pool.service_name)
