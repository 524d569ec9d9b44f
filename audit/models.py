from django.contrib.auth import get_user_model
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.functions import Cast, Now
from django.utils import timezone


class Operation(models.TextChoices):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


# A record id or user id that can be a primary key (others, such as `system:seed`, are not).
NUMERIC_ID = r"^[0-9]{1,18}$"


class AuditLogQuerySet(models.QuerySet):
    def with_actor_username(self):
        """Each record with its actor's username as `actor_username` (None for a system actor or
        a user since deleted), read by a primary-key probe in the records' own query."""
        users = get_user_model().objects.filter(
            pk=Cast(models.OuterRef("user_id"), models.BigIntegerField())
        )
        return self.annotate(
            actor_username=models.Case(
                models.When(
                    user_id__regex=NUMERIC_ID,
                    then=models.Subquery(users.values("username")[:1]),
                )
            )
        )


class AuditLog(models.Model):
    """One change to one audited row (table `audit_logs`).

    No foreign keys: a record outlives the row it describes and the user who made the change, so
    `record_id` and `user_id` are plain strings. Append-only: see migration 0002. The table also
    has an `xid` column, the writing transaction's id, which the model leaves out: PostgreSQL
    fills it (migration 0004) and only the sealer reads it (audit/chain.py).
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

    objects = AuditLogQuerySet.as_manager()

    class Meta:
        db_table = "audit_logs"
        indexes = [
            # A record's trail (table_name and record_id) and the console's search by record id
            # alone, which an index led by table_name would read whole.
            models.Index(
                fields=["record_id", "table_name", "timestamp"], name="idx_audit_logs_record"
            ),
            models.Index(fields=["user_id", "timestamp"], name="idx_audit_logs_user"),
            # The lists' order (newest first, id breaking ties): a deep page's rows are skipped
            # in the index alone.
            models.Index(fields=["timestamp", "id"], name="idx_audit_logs_timestamp"),
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
        return f"{self.operation} {self.table_name}#{self.record_id} by {self.actor}"

    @property
    def actor(self):
        """Who made the change: the username when the record was read with_actor_username()
        (as the admin reads them) and the user still exists, else the actor as recorded (a
        system actor such as `system:scheduler`, or a deleted user's id)."""
        return getattr(self, "actor_username", None) or self.user_id or "-"


class CheckpointKind(models.TextChoices):
    SEAL = "seal"
    PURGE = "purge"


def last_after(position) -> models.Q:
    """Checkpoints whose last position (an audit.chain.Position) is after `position`."""
    return models.Q(last_xid__gt=position.xid) | models.Q(
        last_xid=position.xid, last_record_id__gt=position.id
    )


class AuditCheckpoint(models.Model):
    """A signed statement about a range of the audit log (table `audit_checkpoints`).

    A `seal` checkpoint covers the records after the previous seal checkpoint's last position
    through its own `last_*` position, in (xid, id) order: their count and the head of the hash
    chain over them. A `purge` checkpoint says which sealed range was deleted (its count and
    head are those of the seal checkpoints it removed). Each names the previous checkpoint's
    hash and is signed with Ed25519 (audit/chain.py says what is signed). Append-only: see
    migration 0006. `records` locates a mismatch: the id and the first 8 bytes of the digest of
    each sealed record, in order (not signed; verification recomputes the head from the records).
    """

    sequence = models.BigIntegerField(primary_key=True)
    kind = models.CharField(max_length=5, choices=CheckpointKind.choices)
    first_xid = models.BigIntegerField()
    first_record_id = models.BigIntegerField()
    last_xid = models.BigIntegerField()
    last_record_id = models.BigIntegerField()
    record_count = models.IntegerField()
    head_hash = models.CharField(max_length=64)
    previous_hash = models.CharField(max_length=64)
    newest_record_at = models.DateTimeField()
    created_at = models.DateTimeField()
    key_id = models.CharField(max_length=16)
    signature = models.CharField(max_length=88)
    records = models.BinaryField(default=bytes)

    class Meta:
        db_table = "audit_checkpoints"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=CheckpointKind.values),
                name="audit_checkpoints_kind_valid",
            ),
        ]

    def __str__(self):
        return f"checkpoint {self.sequence} ({self.kind}, {self.record_count} records)"


class AuditVerification(models.Model):
    """The outcome of the latest verification of the audit log (one row, updated by each
    verification), for the console to show without verifying again."""

    checked_at = models.DateTimeField()
    ok = models.BooleanField()
    # The last checkpoint verified: the whole log when ok, up to the failure otherwise.
    through_sequence = models.BigIntegerField(null=True)
    through_created_at = models.DateTimeField(null=True)
    checkpoint_count = models.IntegerField()
    record_count = models.BigIntegerField()
    unsealed_count = models.BigIntegerField()
    failure = models.TextField(blank=True, default="")

    class Meta:
        db_table = "audit_verifications"

    def __str__(self):
        outcome = "ok" if self.ok else "failed"
        return f"verification at {self.checked_at:%Y-%m-%d %H:%M:%S}: {outcome}"
