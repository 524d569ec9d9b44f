"""Failed logins, counted per username from a client address and per client address, for every
door that checks a password: the admin's login form and `POST /api/auth/token` share the
counters, so a failure at one counts at the other and neither is an easier way in.

A refused login adds one to two counters in the cache: the username's from its client address
(THROTTLE_RATE_FAILED_LOGIN_USERNAME_ADDRESS), and the client address's, whatever the username
(THROTTLE_RATE_FAILED_LOGIN_ADDRESS), so a spray of usernames from one address is stopped too.
Once either has reached its rate in the current window, the attempts it covers are refused
before any password is checked, until the window ends. A successful login counts nothing and
clears the failures of its username from its address; the address's count stays. Failing at a
username from one address never refuses that username from another. Usernames are counted
case-folded and stripped, as typed at either door.

Counters are fixed windows of the rate's period: one atomic INCR per failure, each key expiring
with its window. Attempts checked at the same moment may all pass before their failures are
counted, so a count can go past its rate by the number of logins in flight.

With the cache unreachable nothing is counted, cleared or refused (fail open), and each uncounted
failure is logged as a warning: a Redis outage must not lock every operator out.
"""

import hashlib
import logging
import math
import time
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from brain.cache import count as cache_counter

logger = logging.getLogger(__name__)

PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Counter:
    name: str
    key: str
    limit: int
    seconds: int
    ends_at: float


def parse_rate(setting):
    """(count, seconds) of the rate in `setting`, DRF's notation: `10/hour`, `30/min`."""
    rate = getattr(settings, setting)
    try:
        count, period = rate.split("/")
        return int(count), PERIOD_SECONDS[period[:1]]
    except (ValueError, KeyError):
        raise ImproperlyConfigured(
            f"{setting}={rate!r}: expected a count and a period, such as 10/hour or 30/min."
        ) from None


def normalized_username(username):
    """The username as both doors compare it: NFKC, stripped, then case-folded."""
    return unicodedata.normalize("NFKC", username).strip().casefold()


def counters(*, username, address, now):
    """The counters an attempt at `username` (None when the request named none) from `address`
    falls under, in the window holding `now`: the address's, then the username's from that
    address."""
    address = address or "unknown"
    idents = [("address", "THROTTLE_RATE_FAILED_LOGIN_ADDRESS", address)]
    if username is not None:
        # A JSON body may carry a lone surrogate, which UTF-8 cannot encode; the serializer
        # refuses such a username once the attempt is let through.
        name = normalized_username(username).encode(errors="surrogatepass")
        digest = hashlib.sha256(name).hexdigest()
        setting = "THROTTLE_RATE_FAILED_LOGIN_USERNAME_ADDRESS"
        idents.append(("username-address", setting, f"{address}:{digest}"))
    found = []
    for name, setting, ident in idents:
        limit, seconds = parse_rate(setting)
        window = int(now // seconds)
        found.append(
            Counter(
                name=name,
                key=f"login-failures:{name}:{ident}:w{window}",
                limit=limit,
                seconds=seconds,
                ends_at=(window + 1) * seconds,
            )
        )
    return found


def login_block_seconds(*, username, address):
    """Seconds before an attempt at `username` from `address` may be checked: 0 when neither
    counter has reached its rate (or the cache cannot be read). One cache read."""
    now = time.time()
    covering = counters(username=username, address=address, now=now)
    counts = cache.get_many([counter.key for counter in covering])
    waits = [
        counter.ends_at - now for counter in covering if counts.get(counter.key, 0) >= counter.limit
    ]
    return math.ceil(max(waits)) if waits else 0


def login_failure_record(*, username, address):
    """Counts one refused login against `username` (when the request named one) and against
    `address`; logs a warning when a counter reaches its rate, or when the cache is unreachable
    and the failure goes uncounted."""
    for counter in counters(username=username, address=address, now=time.time()):
        count = cache_counter(cache, counter.key, counter.seconds)
        if count is None:
            logger.warning(
                "failed login not counted: the cache is unreachable",
                extra={"limit": counter.name, "client_ip": address},
            )
        elif count == counter.limit:
            logger.warning(
                "failed logins reached their limit",
                extra={"limit": counter.name, "client_ip": address, "seconds": counter.seconds},
            )


def login_success_record(*, username, address):
    """Clears the failures counted against `username` from `address` (the address's own count
    stays): one cache delete, skipped when the cache is unreachable."""
    for counter in counters(username=username, address=address, now=time.time()):
        if counter.name == "username-address":
            cache.delete(counter.key)
