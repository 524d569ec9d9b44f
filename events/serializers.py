"""Validation and representation of system events (the seed's Pydantic models as serializers)."""

from rest_framework import serializers

from .models import SystemEvent

BULK_MAX_EVENTS = 1000


_DATETIME = serializers.DateTimeField()


class SystemEventSerializer(serializers.ModelSerializer):
    """SystemEventResponse: an event as the API returns it."""

    def to_representation(self, event):
        # Every list page, cached body and write answer goes through here: the same dict as
        # ModelSerializer's field-by-field walk (a test holds them equal), five times faster.
        return {
            "id": event.id,
            "event_type": event.event_type,
            "severity": event.severity,
            "message": event.message,
            "details": event.details,
            "source": event.source,
            "timestamp": _DATETIME.to_representation(event.timestamp),
            "created_at": _DATETIME.to_representation(event.created_at),
        }

    class Meta:
        model = SystemEvent
        fields = [
            "id", "event_type", "severity", "message", "details", "source", "timestamp", "created_at",
        ]
        read_only_fields = fields


class SystemEventCreateSerializer(serializers.ModelSerializer):
    """SystemEventCreate: event_type 1..50 characters, severity one of the four, message
    non-empty, details a JSON object or null, source at most 100 characters, timestamp optional
    (ISO 8601, default now). Text with NUL characters is refused (PostgreSQL cannot store it)."""

    class Meta:
        model = SystemEvent
        fields = ["event_type", "severity", "message", "details", "source", "timestamp"]
        extra_kwargs = {"timestamp": {"required": False}}


class SystemEventUpdateSerializer(serializers.ModelSerializer):
    """SystemEventUpdate: every field optional; omitted fields stay unchanged."""

    class Meta:
        model = SystemEvent
        fields = ["event_type", "severity", "message", "details", "source"]
        extra_kwargs = {field: {"required": False} for field in fields}


class SeverityCountsSerializer(serializers.Serializer):
    info = serializers.IntegerField()
    warning = serializers.IntegerField()
    error = serializers.IntegerField()
    critical = serializers.IntegerField()


class TypeCountSerializer(serializers.Serializer):
    event_type = serializers.CharField()
    count = serializers.IntegerField()


class SourceCountSerializer(serializers.Serializer):
    source = serializers.CharField()
    count = serializers.IntegerField()


class HourCountSerializer(serializers.Serializer):
    hour = serializers.DateTimeField()
    count = serializers.IntegerField()


class EventStatsSerializer(serializers.Serializer):
    """Statistics of the (filtered) events."""

    total = serializers.IntegerField()
    by_severity = SeverityCountsSerializer()
    by_type = TypeCountSerializer(
        many=True, help_text="The 100 most frequent types, most frequent first."
    )
    top_sources = SourceCountSerializer(many=True, help_text="The 10 most frequent sources.")
    first_event_at = serializers.DateTimeField(allow_null=True)
    last_event_at = serializers.DateTimeField(allow_null=True)
    last_24h = HourCountSerializer(many=True, help_text="Events per hour (UTC), oldest first.")


def bulk_create_serializer(data):
    """A list of 1..BULK_MAX_EVENTS SystemEventCreate items, validated all or nothing."""
    return SystemEventCreateSerializer(
        data=data, many=True, allow_empty=False, max_length=BULK_MAX_EVENTS
    )
