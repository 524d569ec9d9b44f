"""Validation and representation of system events (the seed's Pydantic models as serializers)."""

from django.core.exceptions import ImproperlyConfigured
from django.db import models
from rest_framework import serializers

from brain.api import serializers as api_serializers
from brain.api.strict import StrictInputMixin

from .models import SystemEvent

BULK_MAX_EVENTS = 1000


_DATETIME = serializers.DateTimeField()

# How the fast representation writes each type of model field: as stored (None) or converted. A
# field of another type is refused when the module loads, never answered wrongly.
_CONVERTERS = {
    models.AutoField: None,
    models.CharField: None,
    models.TextField: None,
    models.JSONField: None,
    models.DateTimeField: _DATETIME.to_representation,
}


def _representation_plan(model, names):
    """(field name, converter or None) for each of `names`, in order."""
    plan = []
    for name in names:
        field_type = type(model._meta.get_field(name))
        if field_type not in _CONVERTERS:
            raise ImproperlyConfigured(
                f"SystemEventSerializer cannot represent {name} ({field_type.__name__}) quickly: "
                f"add its type to _CONVERTERS."
            )
        plan.append((name, _CONVERTERS[field_type]))
    return tuple(plan)


class SystemEventSerializer(serializers.ModelSerializer):
    """SystemEventResponse: an event as the API returns it."""

    def to_representation(self, event):
        # Every list page, cached body and write answer goes through here: the same dict as
        # ModelSerializer's field-by-field walk (a test holds them equal), five times faster.
        # The fields are Meta.fields, planned once when the module loads.
        data = {}
        for name, convert in _REPRESENTATION:
            value = getattr(event, name)
            data[name] = value if convert is None or value is None else convert(value)
        return data

    class Meta:
        model = SystemEvent
        fields = [
            "id",
            "event_type",
            "severity",
            "message",
            "details",
            "source",
            "timestamp",
            "created_at",
        ]
        read_only_fields = fields


_REPRESENTATION = _representation_plan(SystemEvent, SystemEventSerializer.Meta.fields)


class SystemEventCreateSerializer(StrictInputMixin, api_serializers.ModelSerializer):
    """SystemEventCreate: event_type 1..50 characters, severity one of the four, message
    non-empty, details a JSON object or null, source at most 100 characters, timestamp optional
    (ISO 8601, default now). Text with NUL characters is refused (PostgreSQL cannot store it)."""

    class Meta:
        model = SystemEvent
        fields = ["event_type", "severity", "message", "details", "source", "timestamp"]
        extra_kwargs = {"timestamp": {"required": False}}


class SystemEventUpdateSerializer(StrictInputMixin, api_serializers.ModelSerializer):
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
