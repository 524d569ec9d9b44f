from django.db import models

from audit.mixins import AuditedModel


class Note(AuditedModel):
    """An audited model that leaves two fields out of its records (`audit_exclude`)."""

    title = models.CharField(max_length=100)
    rank = models.IntegerField(default=0)
    edited_at = models.DateTimeField(auto_now=True)

    audit_exclude = ("rank", "edited_at")

    class Meta:
        db_table = "audit_test_notes"


class Attachment(AuditedModel):
    """An audited model whose foreign key is SET_NULL: Django's collector updates it when its
    note is deleted."""

    name = models.CharField(max_length=100)
    note = models.ForeignKey(Note, null=True, on_delete=models.SET_NULL, related_name="attachments")

    class Meta:
        db_table = "audit_test_attachments"
