from django.apps import AppConfig, apps


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit"

    def ready(self):
        """Audits every concrete model inheriting AuditedModel: registers its options and
        connects the receivers that record its changes."""
        from . import receivers, registry
        from .mixins import AuditedModel

        for model in apps.get_models():
            if issubclass(model, AuditedModel):
                registry.register(model)
                receivers.connect(model)
