import pytest
from rest_framework import serializers

from events.serializers import SystemEventSerializer

from .factories import SystemEventFactory

pytestmark = pytest.mark.django_db


def test_the_fast_representation_is_model_serializers():
    event = SystemEventFactory(details={"a": [1, {"b": None}]}, source=None)
    event.refresh_from_db()

    generic = serializers.ModelSerializer.to_representation(SystemEventSerializer(), event)

    assert SystemEventSerializer(event).data == generic
