"""Recording by hand, for a change the signals cannot see (raw SQL, another system's write):
`audit_log_create`, `audit_log_update` and `audit_log_delete`. Each writes one record (or none)
with the current request context or actor, inside the caller's transaction, in one INSERT. Values
are JSON-encoded and secrets redacted as for the automatic records."""

from . import recording
from .changes import REDACTED, is_secret_name, values_changes
from .models import Operation
from .registry import options_for

__all__ = [
    "audit_log_copy_created",
    "audit_log_create",
    "audit_log_delete",
    "audit_log_update",
]


def _recorded(name, value):
    return REDACTED if is_secret_name(name) else value


def _write(operation, table_name, record_id, changed_fields, using):
    recording.write([recording.Entry(operation, table_name, str(record_id), changed_fields)], using)


def audit_log_create(*, table_name, record_id, values, using="default"):
    """Records the creation of a row with its values."""
    _write(
        Operation.CREATE,
        table_name,
        record_id,
        {name: _recorded(name, value) for name, value in values.items()},
        using,
    )


def audit_log_update(*, table_name, record_id, old_values, new_values, using="default"):
    """Records the fields of `new_values` that differ from `old_values`; nothing when none does.
    Returns whether a record was written."""
    changed = {
        name: {"old": _recorded(name, old_values.get(name)), "new": _recorded(name, value)}
        for name, value in new_values.items()
        if old_values.get(name) != value
    }
    if changed:
        _write(Operation.UPDATE, table_name, record_id, changed, using)
    return bool(changed)


def audit_log_delete(*, table_name, record_id, values, using="default"):
    """Records the deletion of a row with its last values."""
    _write(
        Operation.DELETE,
        table_name,
        record_id,
        {name: _recorded(name, value) for name, value in values.items()},
        using,
    )


def audit_log_copy_created(*, model, rows, using="default"):
    """Records the creation of `rows` (dicts of attname -> value, primary key included) of the
    audited `model`, loaded by the caller with PostgreSQL's COPY: one CREATE record per row,
    exactly as a save would write it, itself written with COPY."""
    options = options_for(model)
    recording.copy(
        [
            recording.Entry(
                Operation.CREATE,
                options.table_name,
                str(row[model._meta.pk.attname]),
                values_changes(options, row),
            )
            for row in rows
        ],
        using,
    )
