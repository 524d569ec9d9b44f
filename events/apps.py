from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Events"

    def ready(self):
        # Connects cache invalidation on ORM writes and the recording of lifecycle events.
        from django.utils import timezone

        from brain import partitions

        from . import partitions as event_partitions
        from . import receivers  # noqa: F401
        from .services import event_retention_apply

        partitions.register(
            partitions.Partitioning(
                table=event_partitions.TABLE,
                column="timestamp",
                interval=event_partitions.INTERVAL,
                ahead=event_partitions.AHEAD,
                retention=event_partitions.retention,
                drop=lambda age: event_retention_apply(older_than=timezone.now() - age),
            )
        )
