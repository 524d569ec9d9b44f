"""post_save, pre_delete and post_delete handlers of the audited models: they diff against the
instance's snapshot and record the change, nothing more. `connect()` attaches them to one model,
with a dispatch_uid per model; AuditConfig.ready() calls it for every audited model, right after
registering it."""

from contextlib import contextmanager
from contextvars import ContextVar

from django.db import connections
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save

from . import changes, recording
from .models import Operation
from .registry import options_for


def load_missing(instance, options, using, names):
    """Reads, in one SELECT, the stored values of the fields about to be written (`names`, field
    names or attnames) whose old value the instance's snapshot lacks: every field of an instance
    with no snapshot, none of one loaded by an AuditedModel's `from_db`."""
    if instance.pk is None:
        return
    snapshot = instance.__dict__.setdefault("_audit_snapshot", {})
    missing = [attname for attname in options.saved_attnames(names) if attname not in snapshot]
    if not missing:
        return
    model = type(instance)
    stored = model._base_manager.using(using).filter(pk=instance.pk).values(*missing).first()
    if stored is not None:
        snapshot.update(changes.snapshot(options, stored))


def load_old_values(sender, instance, raw, using, update_fields, **kwargs):
    """pre_save of an audited model that does not inherit AuditedModel (no snapshot at load):
    the old values of a change, one SELECT, so that record_save can diff them. A create, or a
    raw save, reads nothing."""
    if raw or instance._state.adding:
        return
    options = options_for(sender)
    names = options.attnames if update_fields is None else update_fields
    load_missing(instance, options, using, names)


def record_save(sender, instance, created, update_fields, using, raw=False, **kwargs):
    """Records a CREATE with every recorded value, or an UPDATE with the saved fields that
    differ from the snapshot (none: no record), then refreshes the snapshot. Runs inside the
    save's transaction (AuditedModel.save); costs one INSERT, or none. A raw save (loaddata
    loading a fixture) records nothing: the fixture brings its own audit trail."""
    if raw:
        return
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


# The rows a delete is removing, between their pre_delete and post_delete: (outermost atomic
# block, {(model, pk)}). Django's collector sets a SET_NULL foreign key to null before deleting
# the rows, even on rows it deletes too (a user's task losing the user's deleted project); that
# UPDATE is not recorded, so a deleted row has its one DELETE record. The marks count only inside
# the transaction that made them, so a delete that failed half-way hides no later change.
_deleting = ContextVar("audit_deleting", default=None)


def _outermost_block(using):
    blocks = connections[using].atomic_blocks
    return blocks[0] if blocks else None


@contextmanager
def deletion():
    """The scope of one audited delete: marks that a delete which failed half-way leaves (its
    pre_delete ran, its post_delete never did) end with it instead of hiding a later change of
    those rows in the same transaction."""
    token = _deleting.set(None)
    try:
        yield
    finally:
        _deleting.reset(token)


def mark_deleting(sender, instance, using, **kwargs):
    """pre_delete: the row is being deleted by this delete (see _deleting)."""
    block = _outermost_block(using)
    marks = _deleting.get()
    if marks is None or marks[0] is not block:
        marks = (block, set())
        _deleting.set(marks)
    marks[1].add((sender, instance.pk))


def being_deleted(model, using):
    """The primary keys of `model` rows the current delete is removing."""
    marks = _deleting.get()
    if marks is None or marks[0] is not _outermost_block(using):
        return frozenset()
    return frozenset(pk for marked, pk in marks[1] if marked is model)


def record_delete(sender, instance, using, **kwargs):
    """Records a DELETE with the row's last stored values (the snapshot; loaded values where it
    has none). Inside an audited delete the record joins the batch written at its end."""
    marks = _deleting.get()
    if marks is not None:
        marks[1].discard((sender, instance.pk))
    options = options_for(sender)
    values = {**instance.__dict__, **instance.__dict__.get("_audit_snapshot", {})}
    recording.write(
        [
            recording.Entry(
                Operation.DELETE,
                options.table_name,
                str(instance.pk),
                changes.values_changes(options, values),
            )
        ],
        using,
    )


def connect(model, *, load_old=False):
    """Attaches the handlers to `model`'s signals (once, whatever the number of calls). With
    `load_old`, for a model that does not inherit AuditedModel, a save reads the old values it
    changes first (one SELECT); such a model's saves and deletes are recorded, not its
    QuerySet.update() nor its bulk_create(), which only AuditedModel's QuerySet audits."""
    label = model._meta.label_lower
    if load_old:
        pre_save.connect(load_old_values, sender=model, dispatch_uid=f"audit.old.{label}")
    post_save.connect(record_save, sender=model, dispatch_uid=f"audit.save.{label}")
    pre_delete.connect(mark_deleting, sender=model, dispatch_uid=f"audit.deleting.{label}")
    post_delete.connect(record_delete, sender=model, dispatch_uid=f"audit.delete.{label}")
