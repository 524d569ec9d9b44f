from django.apps import AppConfig


class BrainConfig(AppConfig):
    name = "brain"
    verbose_name = "Brain"

    def ready(self):
        from django.contrib import admin

        from . import receivers  # noqa: F401  (connects the token-cache invalidation)
        from .admin_login import RateLimitedAdminAuthenticationForm
        from .api import schema  # noqa: F401  (registers the schema of msgspec Structs)

        admin.site.login_form = RateLimitedAdminAuthenticationForm
