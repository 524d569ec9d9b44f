import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework import serializers

from events.serializers import SystemEventSerializer, _representation_plan
from scheduling.models import Project

from .factories import SystemEventFactory

pytestmark = pytest.mark.django_db


def test_the_fast_representation_is_model_serializers():
    event = SystemEventFactory(details={"a": [1, {"b": None}]}, source=None)
    event.refresh_from_db()

    generic = serializers.ModelSerializer.to_representation(SystemEventSerializer(), event)

    assert SystemEventSerializer(event).data == generic


def test_the_fast_representation_answers_every_meta_field():
    event = SystemEventFactory()

    assert list(SystemEventSerializer(event).data) == SystemEventSerializer.Meta.fields


def test_a_field_the_fast_representation_cannot_write_is_refused_at_load():
    with pytest.raises(ImproperlyConfigured) as raised:
        _representation_plan(Project, ["tasks_count"])

    assert str(raised.value) == (
        "SystemEventSerializer cannot represent tasks_count (PositiveIntegerField) quickly: "
        "add its type to _CONVERTERS."
    )
