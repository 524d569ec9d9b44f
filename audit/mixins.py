"""What an audited model inherits: a load-time snapshot and a QuerySet that audits bulk writes.

This is the interface the events and scheduling models build on; the audit app's issue fills in
the behaviour (snapshot diffing in receivers, bulk paths in AuditedQuerySet).
"""

from django.db import models


class AuditedQuerySet(models.QuerySet):
    """QuerySet of an audited model."""


class AuditedModel(models.Model):
    """Abstract base of every audited model."""

    objects = AuditedQuerySet.as_manager()

    class Meta:
        abstract = True

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._audit_snapshot = dict(zip(field_names, values))
        return instance
