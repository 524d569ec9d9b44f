from django.db import models
from django.db.models.functions import Now
from django.utils import timezone

from audit.mixins import AuditedModel


class Severity(models.TextChoices):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class SystemEvent(AuditedModel):
    """A system event: health check, deployment, error (seed 000, table `system_events`)."""

    id = models.AutoField(primary_key=True)  # SERIAL, as the seed's schema
    event_type = models.CharField(max_length=50)
    severity = models.CharField(max_length=20, choices=Severity.choices)
    message = models.TextField()
    details = models.JSONField(null=True, blank=True)
    source = models.CharField(max_length=100, null=True, blank=True)
    timestamp = models.DateTimeField(default=timezone.now, db_default=Now())
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)

    class Meta:
        db_table = "system_events"
        indexes = [
            models.Index(fields=["event_type"], name="idx_system_events_type"),
            models.Index(fields=["severity"], name="idx_system_events_severity"),
            models.Index(fields=["timestamp"], name="idx_system_events_timestamp"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(severity__in=Severity.values),
                name="system_events_severity_valid",
            ),
        ]

    def __str__(self):
        return f"{self.event_type} [{self.severity}] #{self.pk}"
