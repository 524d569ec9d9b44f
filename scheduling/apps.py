from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = "Scheduling"

    def ready(self):
        import audit

        from . import builtin_skills  # noqa: F401  (registers the built-in skills)

        for model_name in ("Project", "ScheduledTask", "Agent", "ExecutionResult"):
            audit.register(self.get_model(model_name))
