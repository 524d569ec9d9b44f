"""post_save and post_delete handlers of the audited models: they diff against the instance's
snapshot and record the change, nothing more. Connected by `audit.register()` (from each app's
`AppConfig.ready()`), with a dispatch_uid per model."""

from . import changes, recording
from .models import Operation
from .registry import options_for


def record_save(sender, instance, created, update_fields, using, **kwargs):
    """Records a CREATE with every recorded value, or an UPDATE with the saved fields that
    differ from the snapshot (none: no record), then refreshes the snapshot. Runs inside the
    save's transaction (AuditedModel.save); costs one INSERT, or none."""
    options = options_for(sender)
    values = instance.__dict__
    snapshot = values.setdefault("_audit_snapshot", {})
    saved = options.attnames if update_fields is None else options.saved_attnames(update_fields)
    new = {attname: values[attname] for attname in saved if attname in values}
    if created:
        operation, changed = Operation.CREATE, changes.values_changes(options, new)
    else:
        operation, changed = Operation.UPDATE, changes.update_changes(options, snapshot, new)
    snapshot.update(changes.snapshot(options, new))
    if changed:
        recording.write(
            [recording.Entry(operation, options.table_name, str(instance.pk), changed)], using
        )


def record_delete(sender, instance, using, **kwargs):
    """Records a DELETE with the row's last stored values (the snapshot; loaded values where it
    has none). Inside an audited delete the record joins the batch written at its end."""
    options = options_for(sender)
    values = {**instance.__dict__, **instance.__dict__.get("_audit_snapshot", {})}
    recording.write(
        [
            recording.Entry(
                Operation.DELETE, options.table_name, str(instance.pk),
                changes.values_changes(options, values),
            )
        ],
        using,
    )
