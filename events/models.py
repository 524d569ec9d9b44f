from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Now, Upper
from django.utils import timezone

from audit.mixins import AuditedModel

from .querysets import SystemEventQuerySet
from .validators import validate_details


class Severity(models.TextChoices):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class SystemEvent(AuditedModel):
    """A system event: health check, deployment, error (table `system_events`)."""

    id = models.AutoField(primary_key=True)  # SERIAL: an integer identity
    event_type = models.CharField(max_length=50)
    severity = models.CharField(max_length=20, choices=Severity.choices)
    # Longer messages are refused (events.schemas), never cut: 8 KiB, as Sentry bounds an event's
    # message; structured context goes in details. The column stays text (max_length binds only
    # validation), so changing the bound rewrites nothing.
    message = models.TextField(max_length=8192)
    details = models.JSONField(null=True, blank=True, validators=[validate_details])
    source = models.CharField(max_length=100, null=True, blank=True)
    timestamp = models.DateTimeField(default=timezone.now, db_default=Now())
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)

    objects = SystemEventQuerySet.as_manager()

    class Meta:
        db_table = "system_events"
        # Newest first; id breaks ties so limit/offset pages never overlap.
        ordering = ["-timestamp", "-id"]
        indexes = [
            # Single-column indexes on the filtered columns, under their schema names.
            models.Index(fields=["event_type"], name="idx_system_events_type"),
            models.Index(fields=["severity"], name="idx_system_events_severity"),
            models.Index(fields=["timestamp"], name="idx_system_events_timestamp"),
            # One per list filter, ending in the list's order (timestamp, id), so the first page of
            # a filtered list is a backward index scan that stops after `limit` rows, however many
            # rows match (EXPLAIN numbers in docs/events.md).
            models.Index(
                fields=["event_type", "timestamp", "id"], name="idx_system_events_type_ts"
            ),
            models.Index(
                fields=["event_type", "severity", "timestamp", "id"],
                name="idx_system_events_type_sev_ts",
            ),
            models.Index(fields=["severity", "timestamp", "id"], name="idx_system_events_sev_ts"),
            models.Index(fields=["source", "timestamp", "id"], name="idx_system_events_source_ts"),
            # `search` (icontains: UPPER(message) LIKE UPPER(...)) of three characters or more is
            # a trigram index scan whose cost follows the matching rows, not the table.
            GinIndex(
                OpClass(Upper("message"), name="gin_trgm_ops"),
                name="idx_system_events_message_trgm",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(severity__in=Severity.values),
                name="system_events_severity_valid",
            ),
        ]

    def __str__(self):
        return f"{self.event_type} [{self.severity}] #{self.pk}"

    @classmethod
    def from_db(cls, db, field_names, values, **kwargs):
        instance = super().from_db(db, field_names, values, **kwargs)
        # The type it was loaded with, so a save that changes the type also invalidates the old
        # type's cached lists (events.receivers), without an extra SELECT.
        instance.loaded_event_type = instance.__dict__.get("event_type")
        return instance


class EventHourCount(models.Model):
    """A change to the number of events in one UTC hour of one severity, appended by PostgreSQL's
    triggers on system_events (events.counts); the sum of an hour and severity's rows is its
    number of events."""

    hour = models.DateTimeField()
    severity = models.CharField(max_length=20, choices=Severity.choices)
    count = models.BigIntegerField()
    folded = models.BooleanField(db_default=False)

    class Meta:
        # The database's own table (created with its triggers by migration events 0002, on
        # PostgreSQL only), so dumpdata, loaddata and flush leave it to the triggers.
        managed = False
        db_table = "system_event_hour_counts"

    def __str__(self):
        return f"{self.hour:%Y-%m-%d %H:00} {self.severity}: {self.count:+d}"


class EventTypeSourceCount(models.Model):
    """A change to the number of events of one type from one source (or none) in one UTC month,
    appended by PostgreSQL's triggers on system_events (events.counts); the sum of a type,
    source and month's rows is its number of events that month, the sum over every month its
    number of events."""

    event_type = models.CharField(max_length=50)
    source = models.CharField(max_length=100, null=True)
    # The first instant of the month (UTC), as system_events' monthly partitions start.
    month = models.DateTimeField()
    count = models.BigIntegerField()
    folded = models.BooleanField(db_default=False)

    class Meta:
        managed = False  # as EventHourCount's
        db_table = "system_event_type_source_counts"

    def __str__(self):
        return f"{self.event_type} from {self.source} in {self.month:%Y-%m}: {self.count:+d}"


class EventChange(models.Model):
    """One statement's change to system_events (up to 1,000 events), or to a table of another
    kind (events.stream.kinds), appended by PostgreSQL's triggers in the statement's transaction
    (migration events 0004): `op` (create, update or delete) and the rows as the statement left
    them (deletes: as they were). The live stream (events.stream) gives each committed row its
    positions once it is visible: `last_position` is the position of its last row, the others
    precede it one by one."""

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=20, default="event")
    op = models.CharField(max_length=6)
    # The table's `events` (json: the rows, of any kind) is read by events.stream.log only, in SQL.
    event_count = models.IntegerField()
    last_position = models.BigIntegerField(null=True, unique=True)
    stamped_at = models.DateTimeField(null=True)

    class Meta:
        managed = False  # as EventHourCount's
        db_table = "system_event_changes"

    def __str__(self):
        return (
            f"{self.op} of {self.event_count} {self.kind} rows, up to position {self.last_position}"
        )
