from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.functions import Now
from django.utils import timezone


class Operation(models.TextChoices):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


class AuditLog(models.Model):
    """One change to one audited row (table `audit_logs`).

    No foreign keys: a record outlives the row it describes and the user who made the change, so
    `record_id` and `user_id` are plain strings. Append-only: see migration 0002.
    """

    user_id = models.CharField(max_length=150, null=True, blank=True)
    timestamp = models.DateTimeField(default=timezone.now, db_default=Now())
    changed_fields = models.JSONField(encoder=DjangoJSONEncoder, default=dict)
    operation = models.CharField(max_length=6, choices=Operation.choices)
    table_name = models.CharField(max_length=100)
    record_id = models.CharField(max_length=100)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True, default="")
    # Groups the records written by one HTTP request (brain.middleware.RequestLogMiddleware).
    request_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        db_table = "audit_logs"
        indexes = [
            models.Index(
                fields=["table_name", "record_id", "timestamp"], name="idx_audit_logs_record"
            ),
            models.Index(fields=["user_id", "timestamp"], name="idx_audit_logs_user"),
            models.Index(fields=["timestamp"], name="idx_audit_logs_timestamp"),
            # The admin lists every record of one request.
            models.Index(
                fields=["request_id"],
                name="idx_audit_logs_request",
                condition=~models.Q(request_id=""),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(operation__in=Operation.values),
                name="audit_logs_operation_valid",
            ),
        ]

    def __str__(self):
        return f"{self.operation} {self.table_name}#{self.record_id} by {self.user_id or '-'}"
