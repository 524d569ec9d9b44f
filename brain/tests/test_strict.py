"""The strict input rules on a serializer of every kind of field a write endpoint may declare."""

import pytest
from rest_framework import serializers

from brain.api.strict import StrictInputMixin


class Everything(StrictInputMixin, serializers.Serializer):
    text = serializers.CharField(required=False)
    number = serializers.IntegerField(required=False)
    ratio = serializers.FloatField(required=False)
    flag = serializers.BooleanField(required=False)
    choice = serializers.ChoiceField(choices=["a", "b"], required=False)
    items = serializers.ListField(child=serializers.CharField(), required=False)
    mapping = serializers.DictField(required=False)
    anything = serializers.JSONField(required=False)
    maybe = serializers.CharField(required=False, allow_null=True)
    shown = serializers.CharField(read_only=True)


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"text": 0}, {"text": ["Expected a JSON string, got a number."]}),
        ({"text": True}, {"text": ["Expected a JSON string, got true."]}),
        ({"number": "5"}, {"number": ["Expected a JSON integer, got a string."]}),
        ({"number": 5.0}, {"number": ["Expected a JSON integer, got a number."]}),
        ({"number": True}, {"number": ["Expected a JSON integer, got true."]}),
        ({"ratio": "0.5"}, {"ratio": ["Expected a JSON number, got a string."]}),
        ({"ratio": False}, {"ratio": ["Expected a JSON number, got false."]}),
        ({"flag": 1}, {"flag": ["Expected a JSON boolean, got a number."]}),
        ({"flag": "true"}, {"flag": ["Expected a JSON boolean, got a string."]}),
        ({"choice": 1}, {"choice": ["Expected a JSON string, got a number."]}),
        ({"items": "a"}, {"items": ["Expected a JSON array, got a string."]}),
        ({"mapping": []}, {"mapping": ["Expected a JSON object, got an array."]}),
        ({"shown": "x"}, {"shown": ["Read-only field: it cannot be set."]}),
        ({"other": 1}, {"other": ["Unknown field: this endpoint does not take it."]}),
        ({"text": None}, {"text": ["This field may not be null."]}),
    ],
)
def test_a_value_of_another_json_type_or_field_is_refused(data, errors):
    serializer = Everything(data=data)

    assert (serializer.is_valid(), serializer.errors) == (False, errors)


def test_values_of_the_fields_own_types_are_taken():
    data = {
        "text": "t",
        "number": 5,
        "ratio": 1,
        "flag": False,
        "choice": "a",
        "items": ["x"],
        "mapping": {"k": 1},
        "anything": [1, "two", None],
        "maybe": None,
    }
    serializer = Everything(data=data)

    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data == data
