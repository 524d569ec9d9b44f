from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = "Scheduling"

    def ready(self):
        from . import (
            builtin_skills,  # noqa: F401  (registers the built-in skills)
            stream,
        )

        stream.register()
