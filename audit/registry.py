"""Which models are audited, and how. `AuditConfig.ready()` registers every concrete model that
inherits `audit.mixins.AuditedModel`, with the fields it names in `audit_exclude` left out; that
inheritance is the one place a model opts in."""

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


_registry: dict[type, AuditOptions] = {}


def register(model):
    """Audits every change to `model`: one AuditLog per created, changed or deleted row, written
    in the change's own transaction. The fields its `audit_exclude` names are never recorded;
    a name that is not one of its fields is refused."""
    meta = model._meta
    exclude = set(model.audit_exclude)
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
    """The AuditOptions of a registered model: every concrete AuditedModel, once the audit app
    is ready."""
    return _registry[model]


def audited_models():
    """Every registered model, by table name."""
    return {options.table_name: model for model, options in _registry.items()}


def audited_tables():
    """The table names of every registered model, sorted."""
    return sorted(options.table_name for options in _registry.values())
