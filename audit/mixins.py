"""What an audited model inherits: a load-time snapshot, saves and deletes that share one
transaction with their audit record, and a QuerySet that audits bulk writes.

A model opts in by inheriting AuditedModel (fields never recorded go in its `audit_exclude`);
AuditConfig.ready() registers it and connects its receivers.
"""

from django.db import NotSupportedError, models, router, transaction
from django.utils import timezone

from . import changes, receivers, recording
from .models import Operation
from .registry import options_for


class AuditedQuerySet(models.QuerySet):
    """Audits `update()`, `delete()`, `bulk_create()` and `bulk_update()`: one record per changed
    row, written in the same transaction, in a number of queries that does not grow with the
    number of rows."""

    def update(self, **kwargs):
        """`QuerySet.update()`, which also sets `auto_now` fields not given, audited: one
        SELECT ... FOR UPDATE of the old values, the UPDATE of those rows, one SELECT of their new
        values (expressions such as F() are worked out by the database), one INSERT of the
        records."""
        options = options_for(self.model)
        now = timezone.now()
        for field in options.auto_now_fields:
            if field.name not in kwargs and field.attname not in kwargs:
                kwargs[field.name] = now
        recorded = options.saved_attnames(kwargs)
        with transaction.atomic(using=self.db, savepoint=False):
            old_rows = {
                row[0]: row[1:]
                for row in self.order_by()
                .select_for_update(of=("self",))
                .values_list("pk", *recorded)
            }
            if not old_rows:
                return 0
            # Only the locked rows: a row that starts to match meanwhile is neither changed nor
            # recorded, and none of them can change before their new values are read.
            locked = self.model._base_manager.using(self.db).filter(pk__in=list(old_rows))
            updated = super(AuditedQuerySet, locked).update(**kwargs)
            new_rows = locked.order_by().values_list("pk", *recorded)
            entries = []
            # A row this delete removes anyway (a collector's SET_NULL) gets its DELETE alone.
            deleting = receivers.being_deleted(self.model, self.db)
            for pk, *new in new_rows:
                if pk in deleting:
                    continue
                changed = changes.update_changes(
                    options, dict(zip(recorded, old_rows[pk])), dict(zip(recorded, new))
                )
                if changed:
                    entries.append(
                        recording.Entry(Operation.UPDATE, options.table_name, str(pk), changed)
                    )
            recording.write(entries, self.db)
        return updated

    update.alters_data = True

    def delete(self):
        """`QuerySet.delete()` audited, cascades included: Django's collector loads the rows (and
        their audited dependents) and sends post_delete for each; the records are written by one
        INSERT at the end."""
        with (
            transaction.atomic(using=self.db, savepoint=False),
            recording.batch(),
            receivers.deletion(),
        ):
            return super().delete()

    delete.alters_data = True
    delete.queryset_only = True

    def bulk_create(
        self,
        objs,
        batch_size=None,
        ignore_conflicts=False,
        update_conflicts=False,
        update_fields=None,
        unique_fields=None,
    ):
        """`bulk_create()` audited: a CREATE record per object, one INSERT for all. Refuses
        `ignore_conflicts` and `update_conflicts`, whose rows cannot be told apart (created,
        updated or skipped) and would go unrecorded."""
        options = options_for(self.model)
        if ignore_conflicts or update_conflicts:
            raise NotSupportedError(
                f"bulk_create() with ignore_conflicts or update_conflicts is not audited; "
                f"{self.model.__name__} is an audited model."
            )
        with transaction.atomic(using=self.db, savepoint=False):
            objs = super().bulk_create(objs, batch_size=batch_size)
            entries = []
            for obj in objs:
                values = obj.__dict__
                entries.append(
                    recording.Entry(
                        Operation.CREATE,
                        options.table_name,
                        str(obj.pk),
                        changes.values_changes(options, values),
                    )
                )
                obj._audit_snapshot = changes.snapshot(options, _loaded(options, values))
            recording.write(entries, self.db)
        return objs

    bulk_create.alters_data = True

    def bulk_update(self, objs, fields, batch_size=None):
        """`bulk_update()` audited (each batch is an audited `update()`), with `auto_now` fields
        set on the objects and saved too; the objects' snapshots follow."""
        options = options_for(self.model)
        objs, fields = tuple(objs), list(fields)
        now = timezone.now()
        for field in options.auto_now_fields:
            if field.name not in fields and field.attname not in fields:
                fields.append(field.name)
                for obj in objs:
                    setattr(obj, field.attname, now)
        with transaction.atomic(using=self.db, savepoint=False):
            rows = super().bulk_update(objs, fields, batch_size=batch_size)
        saved = options.saved_attnames(fields)
        for obj in objs:
            snapshot = obj.__dict__.setdefault("_audit_snapshot", {})
            snapshot.update(changes.snapshot(options, {name: obj.__dict__[name] for name in saved}))
        return rows

    bulk_update.alters_data = True


def _loaded(options, values):
    return {attname: values[attname] for attname in options.attnames if attname in values}


class AuditedModel(models.Model):
    """Abstract base of every audited model.

    Loading remembers the loaded values (`from_db`, no extra query); `save()` and `delete()` run
    in `transaction.atomic(savepoint=False)` with the post_save/post_delete handlers that write
    the record (audit.receivers), so a change and its record commit or roll back together. An
    instance built by hand with a primary key, whose old values are unknown, costs one SELECT.
    """

    # Fields never recorded (names or attnames).
    audit_exclude: tuple[str, ...] = ()

    objects = AuditedQuerySet.as_manager()

    class Meta:
        abstract = True
        # Django's collector updates SET_NULL relations through the base manager: it must be the
        # audited one.
        base_manager_name = "objects"

    def save(self, **kwargs):
        options = options_for(type(self))
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        update_fields = kwargs.get("update_fields")
        with transaction.atomic(using=using, savepoint=False):
            if not kwargs.get("force_insert"):
                names = options.attnames if update_fields is None else update_fields
                receivers.load_missing(self, options, using, names)
            super().save(**kwargs)

    save.alters_data = True

    def delete(self, using=None, keep_parents=False):
        options = options_for(type(self))
        using = using or router.db_for_write(type(self), instance=self)
        with (
            transaction.atomic(using=using, savepoint=False),
            recording.batch(),
            receivers.deletion(),
        ):
            receivers.load_missing(self, options, using, options.attnames)
            return super().delete(using=using, keep_parents=keep_parents)

    delete.alters_data = True

    @classmethod
    def from_db(cls, db, field_names, values, **kwargs):
        instance = super().from_db(db, field_names, values, **kwargs)
        instance._audit_snapshot = changes.snapshot(options_for(cls), zip(field_names, values))
        return instance

    def refresh_from_db(self, using=None, fields=None, from_queryset=None):
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)
        options = options_for(type(self))
        loaded = _loaded(options, self.__dict__)
        if fields is not None:
            # Only what was read again: a deferred field loaded on access must not stamp the
            # other fields' unsaved new values into the snapshot.
            reloaded = {self._meta.get_field(name).attname for name in fields}
            loaded = {name: value for name, value in loaded.items() if name in reloaded}
        self.__dict__.setdefault("_audit_snapshot", {}).update(changes.snapshot(options, loaded))
