from django.apps import AppConfig, apps


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit"

    def ready(self):
        """Registers audit_logs' partitions (brain.partitions) and audits every concrete model
        inheriting AuditedModel and every model of registry.OUTSIDE_MODELS: registers its
        options and connects the receivers that record its changes."""
        from brain import partitions

        from . import partitions as audit_partitions
        from . import receivers, registry
        from .mixins import AuditedModel
        from .models import AuditLog
        from .purge import audit_partitions_drop

        partitions.register(
            partitions.Partitioning(
                table=AuditLog._meta.db_table,
                column="timestamp",
                interval=audit_partitions.INTERVAL,
                ahead=audit_partitions.AHEAD,
                retention=audit_partitions.retention,
                drop=lambda age: audit_partitions_drop(older_than=age),
            )
        )

        for model in apps.get_models():
            if issubclass(model, AuditedModel):
                registry.register(model)
                receivers.connect(model)
        for label, exclude in registry.OUTSIDE_MODELS.items():
            model = apps.get_model(label)
            registry.register(model, exclude=exclude)
            receivers.connect(model, load_old=True)
