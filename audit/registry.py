"""Which models are audited, and how. `AuditConfig.ready()` registers every concrete model that
inherits `audit.mixins.AuditedModel`, with the fields it names in `audit_exclude` left out; that
inheritance is the one place an app's model opts in. The models of brain/, which imports no app
and so cannot inherit it, are named in OUTSIDE_MODELS instead."""

from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

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


# Audited models that cannot inherit AuditedModel (label -> fields never recorded): their saves
# and deletes are recorded by the same receivers, their QuerySet.update() and bulk_create() are
# not (audit.receivers.connect).
OUTSIDE_MODELS = {
    # A token's digest stands for its key (a request's token is found by it) and is never shown;
    # its last use is bookkeeping, stamped by the requests that use it with a QuerySet.update().
    "brain.APIToken": ("digest", "last_used_at"),
}

_registry: dict[type, AuditOptions] = {}


def register(model, exclude=None):
    """Audits every change to `model`: one AuditLog per created, changed or deleted row, written
    in the change's own transaction. The fields `exclude` names (by default, its
    `audit_exclude`) are never recorded; a name that is not one of its fields is refused."""
    meta = model._meta
    exclude = set(model.audit_exclude if exclude is None else exclude)
    known = {name for field in meta.concrete_fields for name in (field.name, field.attname)}
    unknown = exclude - known
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


def options_for(model):
    """The AuditOptions of a registered model: every concrete AuditedModel and every model of
    OUTSIDE_MODELS, once the audit app is ready."""
    return _registry[model]


def audited_models():
    """Every registered model, by table name."""
    return {options.table_name: model for model, options in _registry.items()}


def audited_tables():
    """The table names of every registered model, sorted."""
    return sorted(options.table_name for options in _registry.values())
