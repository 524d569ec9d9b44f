"""The admin's login, refused past the failed-login limits it shares with `POST /api/auth/token`
(brain.login_failures): per username from a client address, and per client address for any
username."""

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from brain.context import client_ip

from .login_failures import login_block_seconds, login_failure_record, login_success_record


class RateLimitedAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin's login form: past a failed-login limit it says so and checks no password; a
    login it refuses (wrong password, inactive or not staff) counts as a failure, and one it
    lets in clears the failures of its username from its address."""

    def clean(self):
        username = self.cleaned_data.get("username")
        address = client_ip(self.request, settings.TRUSTED_PROXY_COUNT)
        seconds = login_block_seconds(username=username, address=address)
        if seconds:
            raise ValidationError(
                "Too many failed logins for this username or from your address. "
                f"Try again in {seconds} seconds.",
                code="throttled",
            )
        try:
            cleaned_data = super().clean()
        except ValidationError:
            login_failure_record(username=username, address=address)
            raise
        login_success_record(username=username, address=address)
        return cleaned_data
