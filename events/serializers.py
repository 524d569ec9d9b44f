"""Validation and representation of system events."""

import msgspec
from rest_framework import serializers

from .models import Severity

# An event's fields as the API answers them, in order: SystemEventSerializer's.
EVENT_FIELDS = (
    "id",
    "event_type",
    "severity",
    "message",
    "details",
    "source",
    "timestamp",
    "created_at",
)
_ENCODER = msgspec.json.Encoder()


class SystemEventSerializer(serializers.Serializer):
    """SystemEventResponse: an event as the API returns it (cached body and write answer; list
    pages give the same JSON values through event_page_json). A plain Serializer with declared
    read-only fields: no model introspection per request."""

    id = serializers.IntegerField(read_only=True)
    event_type = serializers.CharField(read_only=True)
    severity = serializers.ChoiceField(choices=Severity.values, read_only=True)
    message = serializers.CharField(read_only=True)
    details = serializers.JSONField(read_only=True, allow_null=True)
    source = serializers.CharField(read_only=True, allow_null=True)
    timestamp = serializers.DateTimeField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


def event_page_json(data):
    """The JSON body of a page of events: `data` is the paginator's `{"count", "next",
    "previous", "results"}` whose results are rows of EVENT_FIELDS as `QuerySet.values()` reads
    them. Encoded by msgspec in one compiled pass, with no serializer field per value: the same
    JSON values as SystemEventSerializer rendered by the API's JSON renderer (date-times in UTC,
    ISO 8601 ending in `Z`)."""
    return _ENCODER.encode(data)


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
