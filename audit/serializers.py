from rest_framework import serializers

from .chain import SIGNED_FIELDS, checkpoint_hash
from .models import AuditCheckpoint, AuditLog


class AuditLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditLog
        fields = [
            "id",
            "user_id",
            "timestamp",
            "operation",
            "table_name",
            "record_id",
            "changed_fields",
            "ip_address",
            "user_agent",
            "request_id",
        ]
        read_only_fields = fields


class CanonicalTimeField(serializers.DateTimeField):
    """A time as a checkpoint signs it: UTC, six fractional digits, `Z`."""

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M:%S.%fZ", read_only=True, **kwargs)


class AuditCheckpointSerializer(serializers.ModelSerializer):
    """A checkpoint as it is signed (audit.chain.SIGNED_FIELDS, the same values), with its
    signature and its hash."""

    newest_record_at = CanonicalTimeField()
    created_at = CanonicalTimeField()
    hash = serializers.SerializerMethodField(help_text="SHA-256 (hex) of the signed body.")

    class Meta:
        model = AuditCheckpoint
        # The signed body's fields, then its signature and hash.
        fields = [*SIGNED_FIELDS, "signature", "hash"]
        read_only_fields = fields

    def get_hash(self, checkpoint) -> str:
        return checkpoint_hash(checkpoint)


class AuditSigningKeySerializer(serializers.Serializer):
    algorithm = serializers.CharField(help_text="Always Ed25519.")
    key_id = serializers.CharField(help_text="First 16 hex digits of the raw key's SHA-256.")
    public_key = serializers.CharField(help_text="The raw 32-byte public key, base64.")
    public_key_pem = serializers.CharField(help_text="The same key as PEM (SubjectPublicKeyInfo).")
