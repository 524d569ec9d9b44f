from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Events"

    def ready(self):
        # Connects cache invalidation on ORM writes and the recording of lifecycle events.
        from . import receivers  # noqa: F401
