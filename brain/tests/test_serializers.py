"""brain.api.serializers.ModelSerializer: the fields DRF works out from the model are built once
per class and copied for each serializer, and they are exactly the fields DRF would build; the
copies are the ones DRF's deep copy makes, and share nothing a change could reach through. The
model's uniqueness validators are made once per class too, and are the ones DRF makes."""

import copy
from datetime import UTC, datetime, timedelta

import pytest
from rest_framework import serializers

from brain.api.serializers import ModelSerializer, copy_field
from events.serializers import SystemEventCreateSerializer, SystemEventUpdateSerializer
from events.tests.factories import SystemEventFactory
from scheduling.models import ExecutionResult
from scheduling.serializers import (
    AgentSerializer,
    ExecutionResultSerializer,
    ProjectSerializer,
    ScheduledTaskSerializer,
)
from scheduling.tests.factories import ExecutionResultFactory

API_MODEL_SERIALIZERS = [
    SystemEventCreateSerializer,
    SystemEventUpdateSerializer,
    ProjectSerializer,
    ScheduledTaskSerializer,
    AgentSerializer,
    ExecutionResultSerializer,
]


def drf_fields(serializer_class):
    """The fields DRF's own ModelSerializer.get_fields() builds for `serializer_class`."""
    return serializers.ModelSerializer.get_fields(serializer_class())


@pytest.mark.parametrize("serializer_class", API_MODEL_SERIALIZERS)
def test_the_fields_are_the_ones_drf_builds(serializer_class):
    assert issubclass(serializer_class, ModelSerializer)

    first, second = serializer_class().fields, serializer_class().fields

    assert repr(first) == repr(second) == repr(drf_fields(serializer_class))


def test_each_serializer_has_its_own_fields():
    first, second = SystemEventCreateSerializer(), SystemEventCreateSerializer()

    assert first.fields["message"] is not second.fields["message"]
    assert first.fields["message"].parent is first
    assert second.fields["message"].parent is second


def test_the_model_is_read_once_per_class(monkeypatch):
    class Serializer(ModelSerializer):
        class Meta:
            model = SystemEventCreateSerializer.Meta.model
            fields = ["message"]

    calls = []
    build_field = Serializer.build_field
    monkeypatch.setattr(
        Serializer,
        "build_field",
        lambda self, *args: calls.append(args) or build_field(self, *args),
    )

    _ = Serializer().fields
    _ = Serializer().fields

    assert len(calls) == 1


@pytest.mark.django_db
def test_an_error_in_one_serializer_does_not_reach_the_next():
    invalid = SystemEventCreateSerializer(data={"event_type": "", "severity": "x", "message": ""})
    valid = SystemEventUpdateSerializer(SystemEventFactory(), data={"message": "ok"}, partial=True)
    later = SystemEventCreateSerializer(
        data={"event_type": "deploy", "severity": "info", "message": "m"}
    )

    assert not invalid.is_valid()
    assert set(invalid.errors) == {"event_type", "severity", "message"}
    assert valid.is_valid(), valid.errors
    assert later.is_valid(), later.errors


@pytest.mark.parametrize("serializer_class", API_MODEL_SERIALIZERS)
def test_each_copy_has_the_state_of_drf_s_deep_copy(serializer_class):
    _ = serializer_class().fields  # builds them
    built = serializer_class._built_fields

    for name, field in built.items():
        ours, drfs = copy_field(field), copy.deepcopy(field)
        assert type(ours) is type(drfs)
        assert vars(ours).keys() == vars(drfs).keys(), name
        assert repr(ours) == repr(drfs), name
        assert _validators(ours) == _validators(drfs), name
        assert ours.error_messages == drfs.error_messages, name


def _validators(field):
    """What each of the field's validators checks (DRF's copies make some anew: equal, not ==)."""
    return [
        (type(each), getattr(each, "limit_value", None), str(getattr(each, "message", "")))
        for each in field.validators
    ]


def test_a_change_to_a_copy_does_not_reach_the_next_serializer():
    first = SystemEventCreateSerializer()
    field = first.fields["message"]
    field.validators.append(lambda value: None)
    field.error_messages["blank"] = "changed"
    field.style["placeholder"] = "changed"

    second = SystemEventCreateSerializer().fields["message"]

    assert len(second.validators) == len(field.validators) - 1
    assert second.error_messages["blank"] != "changed"
    assert "placeholder" not in second.style


def test_a_field_with_a_field_inside_is_deep_copied():
    tags = serializers.ListField(child=serializers.CharField(max_length=5))

    copied = copy_field(tags)

    assert copied.child is not tags.child
    assert copied.child.parent is copied


def test_a_mutable_default_is_not_shared():
    class Serializer(ModelSerializer):
        labels = serializers.JSONField(default={"seen": []})

        class Meta:
            model = SystemEventCreateSerializer.Meta.model
            fields = ["message", "labels"]

    first = Serializer(data={"message": "m"})
    assert first.is_valid(), first.errors
    first.validated_data["labels"]["seen"].append("changed")

    second = Serializer(data={"message": "m"})
    assert second.is_valid(), second.errors
    assert second.validated_data["labels"] == {"seen": []}


def test_a_relation_with_a_pk_field_is_deep_copied():
    relation = serializers.PrimaryKeyRelatedField(read_only=True, pk_field=serializers.UUIDField())

    copied = copy_field(relation)

    assert copied.pk_field is not relation.pk_field


def test_a_field_of_another_module_is_deep_copied():
    class Field(serializers.CharField):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seen = []

    field = Field()

    copied = copy_field(field)

    assert copied.seen is not field.seen


class SlotSerializer(ModelSerializer):
    """ExecutionResult's serializer without its `Meta.validators = []`: DRF then makes a unique
    together validator from the model's (task, scheduled_for) constraint."""

    class Meta:
        model = ExecutionResult
        fields = ["task", "scheduled_for", "started_at"]


@pytest.mark.parametrize("serializer_class", [*API_MODEL_SERIALIZERS, SlotSerializer])
def test_the_validators_are_the_ones_drf_makes(serializer_class):
    drfs = serializers.ModelSerializer.get_validators(serializer_class())

    first, second = serializer_class().validators, serializer_class().validators

    assert repr(first) == repr(second) == repr(drfs)
    assert first is not second


@pytest.mark.django_db
def test_a_uniqueness_validator_made_once_checks_every_serializer():
    slot = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    taken = ExecutionResultFactory(scheduled_for=slot)
    data = {"task": taken.task_id, "scheduled_for": slot.isoformat()}
    free = {**data, "scheduled_for": (slot + timedelta(minutes=1)).isoformat()}

    results = [SlotSerializer(data=each) for each in (data, free, data)]

    assert [serializer.is_valid() for serializer in results] == [False, True, False]
    assert results[2].errors == results[0].errors
    assert "non_field_errors" in results[0].errors


def test_a_serializer_building_its_own_fields_gets_validators_made_for_it(monkeypatch):
    class Serializer(SlotSerializer):
        def get_fields(self):
            return super().get_fields()

    calls = []
    make = serializers.ModelSerializer.get_unique_together_validators
    monkeypatch.setattr(
        serializers.ModelSerializer,
        "get_unique_together_validators",
        lambda self: calls.append(self) or make(self),
    )

    first, second = Serializer(), Serializer()
    _ = first.validators, second.validators

    assert calls == [first, second]
