"""Admin pages whose row another request deletes while they save it."""

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _

# Django's admin's own message, typography included, so that its translations apply.
DOES_NOT_EXIST = "%(name)s with ID “%(key)s” doesn’t exist. Perhaps it was deleted?"  # noqa: RUF001


class DeletedRowMixin:
    """A ModelAdmin whose change and delete forms answer a row deleted while they save it (a
    service raises the model's DoesNotExist when the row it locks is gone, brain.db.rows.lock_row)
    as Django's admin answers a row that does not exist: a redirect to the index with "... doesn't
    exist. Perhaps it was deleted?", not a 500. The error leaves the view's transaction first, so
    nothing the save wrote stays: no audit record, no admin log entry."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except self.model.DoesNotExist:
            if object_id is None:  # an add form: no row of its own to have lost
                raise
            return self.deleted_row_response(request, object_id)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except self.model.DoesNotExist:
            return self.deleted_row_response(request, object_id)

    def deleted_row_response(self, request, object_id):
        """The admin's answer to a row that does not exist, in its words."""
        message = _(DOES_NOT_EXIST) % {
            "name": self.opts.verbose_name,
            "key": unquote(object_id),
        }
        self.message_user(request, message, messages.WARNING)
        return HttpResponseRedirect(reverse("admin:index", current_app=self.admin_site.name))
