"""Which models are audited, and how: `audit.register(Model, exclude=[...])` in an app's
`AppConfig.ready()`.

This module imports no models, so `audit/__init__.py` can re-export it before the app registry
is ready.
"""

from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.db.models.signals import post_delete, post_save, pre_delete

from .changes import is_secret_name


@dataclass(frozen=True)
class AuditOptions:
    """What the audit records about one model."""

    table_name: str
    # Recorded columns by attname (foreign keys as `task_id`), without the primary key, which is
    # the record's `record_id`, and without the excluded fields.
    attnames: tuple[str, ...]
    # Field name or attname -> attname, for every concrete field (update_fields and update()
    # kwargs may use either).
    attname_of: dict[str, str]
    secret_attnames: frozenset[str]
    json_attnames: frozenset[str]
    # `auto_now` fields: maintained by the audited QuerySet's update() and bulk_update() too, and
    # never a change on their own.
    auto_now_fields: tuple

    def saved_attnames(self, names):
        """The recorded attnames among `names` (field names or attnames)."""
        recorded = set(self.attnames)
        return [attname for name in names if (attname := self.attname_of.get(name)) in recorded]


_registry: dict[type, AuditOptions] = {}


def register(model, *, exclude=()):
    """Audits every change to `model`: one AuditLog per created, changed or deleted row, written
    in the change's own transaction. `exclude` names fields that are never recorded.

    The model must inherit `audit.mixins.AuditedModel` (the load-time snapshot and the audited
    QuerySet). Call it from the model's `AppConfig.ready()`.
    """
    from . import receivers
    from .mixins import AuditedModel

    if not issubclass(model, AuditedModel):
        raise ImproperlyConfigured(f"{model.__name__} must inherit audit.mixins.AuditedModel.")
    meta = model._meta
    known = {name for field in meta.concrete_fields for name in (field.name, field.attname)}
    unknown = set(exclude) - known
    if unknown:
        raise ImproperlyConfigured(f"{model.__name__} has no fields {sorted(unknown)} to exclude.")
    fields = [
        field
        for field in meta.concrete_fields
        if not field.primary_key and field.name not in exclude and field.attname not in exclude
    ]
    _registry[model] = AuditOptions(
        table_name=meta.db_table,
        attnames=tuple(field.attname for field in fields),
        attname_of={
            name: field.attname
            for field in meta.concrete_fields
            for name in (field.name, field.attname)
        },
        secret_attnames=frozenset(field.attname for field in fields if is_secret_name(field.name)),
        json_attnames=frozenset(
            field.attname for field in fields if field.get_internal_type() == "JSONField"
        ),
        auto_now_fields=tuple(field for field in fields if getattr(field, "auto_now", False)),
    )
    label = meta.label_lower
    post_save.connect(receivers.record_save, sender=model, dispatch_uid=f"audit.save.{label}")
    pre_delete.connect(
        receivers.mark_deleting, sender=model, dispatch_uid=f"audit.deleting.{label}"
    )
    post_delete.connect(receivers.record_delete, sender=model, dispatch_uid=f"audit.delete.{label}")


def unregister(model):
    """Stops auditing `model` (its saves and bulk writes become plain Django ones)."""
    from . import receivers

    label = model._meta.label_lower
    post_save.disconnect(receivers.record_save, sender=model, dispatch_uid=f"audit.save.{label}")
    pre_delete.disconnect(
        receivers.mark_deleting, sender=model, dispatch_uid=f"audit.deleting.{label}"
    )
    post_delete.disconnect(
        receivers.record_delete, sender=model, dispatch_uid=f"audit.delete.{label}"
    )
    _registry.pop(model, None)


def options_for(model):
    """The AuditOptions of a registered model, or None."""
    return _registry.get(model)


def audited_tables():
    """The table names of every registered model, sorted."""
    return sorted(options.table_name for options in _registry.values())
