from rest_framework import serializers

from .models import Event


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = Event
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
