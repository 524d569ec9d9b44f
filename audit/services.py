"""Recording for bulk loaders that bypass the ORM: `audit_log_copy_created` records rows a loader
wrote with PostgreSQL's COPY, one CREATE record per row, as a save would write it."""

from . import recording
from .changes import values_changes
from .models import Operation
from .registry import options_for


def audit_log_copy_created(*, model, rows, using="default"):
    """Records the creation of `rows` (dicts of attname -> value, primary key included) of the
    audited `model`, loaded by the caller with PostgreSQL's COPY: one CREATE record per row,
    exactly as a save would write it, itself written with COPY, in the caller's transaction."""
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
