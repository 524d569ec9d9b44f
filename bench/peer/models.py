from auditlog.registry import auditlog
from django.db import models
from django.utils import timezone


class Severity(models.TextChoices):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class Event(models.Model):
    """A row of Brain's `system_events` table; Brain's migrations own the table."""

    id = models.AutoField(primary_key=True)
    event_type = models.CharField(max_length=50)
    severity = models.CharField(max_length=20, choices=Severity.choices)
    message = models.TextField()
    details = models.JSONField(null=True, blank=True)
    source = models.CharField(max_length=100, null=True, blank=True)
    timestamp = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        managed = False
        db_table = "system_events"
        ordering = ["-timestamp", "-id"]

    def __str__(self):
        return f"{self.event_type} [{self.severity}] #{self.pk}"


auditlog.register(Event)
