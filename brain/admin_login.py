"""The admin's login, rate limited per client address and username.

DRF's rate throttle (THROTTLE_RATE_ADMIN_LOGIN, 5/min by default) counts the attempts of one
username from one address (audit.context.client_ip): past the rate the form answers with a clear
message and does not check the password. A client hammering a username locks out only itself, never
that user's logins from other addresses.
"""

import hashlib
import math

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from rest_framework.throttling import SimpleRateThrottle

from audit.context import client_ip


class AdminLoginThrottle(SimpleRateThrottle):
    scope = "admin_login"

    def get_cache_key(self, request, view):
        username = request.POST.get("username", "").casefold()
        ident = hashlib.sha256(
            f"{client_ip(request, settings.TRUSTED_PROXY_COUNT)}\0{username}".encode()
        ).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}


class RateLimitedAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin's login form, refusing an attempt past the rate before checking the password."""

    def clean(self):
        throttle = AdminLoginThrottle()
        if self.request is not None and not throttle.allow_request(self.request, None):
            seconds = math.ceil(throttle.wait() or 1)
            raise ValidationError(
                "Too many login attempts for this username from your address. "
                f"Try again in {seconds} seconds.",
                code="throttled",
            )
        return super().clean()
