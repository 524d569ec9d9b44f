from django.apps import AppConfig


class BrainConfig(AppConfig):
    name = "brain"
    verbose_name = "Brain"

    def ready(self):
        from . import receivers  # noqa: F401  (connects the token-cache invalidation)
