from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Events"

    def ready(self):
        import audit

        from . import receivers  # noqa: F401  (connects cache invalidation on ORM writes)

        audit.register(self.get_model("SystemEvent"))
