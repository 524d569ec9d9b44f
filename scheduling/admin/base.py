"""The base of the scheduling admins: writes through the services."""

from django.contrib import admin
from django.db import models

from audit.admin import AuditTrailLinkMixin
from brain import forms as brain_forms
from brain.admin_rows import DeletedRowMixin

# The characters of a name (a skill, a user, a project, a worker) that a list shows.
SHOWN_LENGTH = 40
# The colour of each task and execution status.
STATUS_COLOURS = {
    "success": "#2e7d32",
    "failed": "#ba2121",
    "timeout": "#b36b00",
    "running": "#417690",
    "pending": "#666",
    "cancelled": "#666",
    "disabled": "#666",
    "completed": "#2e7d32",
}


def _adopt(obj, saved):
    """Copies what a service saved onto the admin's instance (the admin logs and redirects with
    it)."""
    for field in saved._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding = False
    obj._state.db = saved._state.db


def _changes(form):
    return {name: form.cleaned_data[name] for name in form.changed_data}


class ServiceAdmin(DeletedRowMixin, AuditTrailLinkMixin, admin.ModelAdmin):
    """A ModelAdmin whose writes call the subclass's `create(form)`, `update(fresh_instance,
    changes)` and `delete(instance)`, each a service call. An update gets a fresh copy from the
    database, so the service sees what changed (a new cron, another project) rather than the
    form's already-edited instance. A row another request deletes meanwhile is answered as gone
    (DeletedRowMixin); "delete selected" skips it. The change page links to the row's audit
    trail."""

    # Fields that are set on creation and never change afterwards (the owner of a row).
    fixed_after_creation = []
    formfield_overrides = {models.JSONField: {"form_class": brain_forms.JSONField}}

    class Media:
        css = {"all": ["scheduling/admin.css"]}

    def save_model(self, request, obj, form, change):
        if change:
            saved = self.update(self.model.objects.get(pk=obj.pk), _changes(form))
        else:
            saved = self.create(form)
        _adopt(obj, saved)

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        return [*readonly, *self.fixed_after_creation] if obj else readonly

    def delete_model(self, request, obj):
        self.delete(obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            try:
                self.delete(obj)
            except self.model.DoesNotExist:
                pass  # deleted by another request since the page listed it: gone, as asked
