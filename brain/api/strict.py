"""The write contract of every request body: nothing a client sends is silently dropped or
coerced. A key the serializer does not take, or takes read-only, is a 400 naming it; a value of
the wrong JSON type (0 for a string, "5" or 5.0 for an integer, 1 for a boolean) is a 400 naming
the field, where DRF would convert it."""

import json
from collections.abc import Mapping

from rest_framework import serializers
from rest_framework.settings import api_settings

UNKNOWN_FIELD = "Unknown field: this endpoint does not take it."
READ_ONLY_FIELD = "Read-only field: it cannot be set."


def json_type(value):
    """The JSON type name of a parsed JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def json_value(value):
    """How a parsed JSON value is named in a message: null, true, false, or its type with an
    article ("an array", "a string", "a number", "an object")."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    name = json_type(value)
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def wrong_json_type(expected, value):
    """The message refusing `value` where a JSON `expected` (object, array, string, integer, ...)
    must be, worded alike for a body, a bulk item and a field: "Expected a JSON object, got
    null.", "Expected a JSON string, got a number."."""
    return f"Expected a JSON {expected}, got {json_value(value)}."


def _is_integer(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_string(value):
    return isinstance(value, str)


def _is_array(value):
    return isinstance(value, list)


def _is_object(value):
    return isinstance(value, Mapping)


def _is_boolean(value):
    return isinstance(value, bool)


def _of_types(types):
    def check(value):
        return type(value) in types

    return check


# (field class, JSON type name, check), first match wins: subclasses before their bases.
_EXPECTED = (
    (serializers.JSONField, None, None),
    (serializers.BooleanField, "boolean", _is_boolean),
    (serializers.IntegerField, "integer", _is_integer),
    (serializers.FloatField, "number", _is_number),
    (serializers.DecimalField, "number", _is_number),
    (serializers.PrimaryKeyRelatedField, "integer", _is_integer),
    (serializers.MultipleChoiceField, "array", _is_array),
    (serializers.ChoiceField, "choice", None),
    (serializers.CharField, "string", _is_string),
    (serializers.DateTimeField, "string", _is_string),
    (serializers.DateField, "string", _is_string),
    (serializers.TimeField, "string", _is_string),
    (serializers.DurationField, "string", _is_string),
    (serializers.ListField, "array", _is_array),
    (serializers.ListSerializer, "array", _is_array),
    (serializers.ManyRelatedField, "array", _is_array),
    (serializers.DictField, "object", _is_object),
    (serializers.BaseSerializer, "object", _is_object),
)


def _expected(field):
    """(JSON type name, check) of `field`'s values, or None when any JSON value may do."""
    for field_class, expected, check in _EXPECTED:
        if isinstance(field, field_class):
            if expected == "choice":
                # Compared by JSON type too: true is not the choice 1, nor "1".
                names = " or ".join(sorted({json_type(key) for key in field.choices}))
                return names, _of_types({type(key) for key in field.choices})
            return None if check is None else (expected, check)
    return None


def json_type_error(field, value):
    """The message refusing `value` for `field`, or None when its JSON type is the field's.
    null is the field's own to accept or refuse (allow_null)."""
    expected = None if value is None else _expected(field)
    if expected is None or expected[1](value):
        return None
    return wrong_json_type(expected[0], value)


def _not_an_object(data):
    return serializers.ValidationError(
        {api_settings.NON_FIELD_ERRORS_KEY: [wrong_json_type("object", data)]}, code="invalid"
    )


class StrictInputMixin:
    """For a serializer that validates a parsed JSON body: refuses, with a 400, a body that is
    not a JSON object, and, naming each one, the keys it does not take, the read-only ones, and
    values of another JSON type than the field's. The rest of validation is the serializer's
    own."""

    def run_validation(self, data=serializers.empty):
        if data is None and self.parent is None:  # DRF would answer "No data provided"
            raise _not_an_object(data)
        return super().run_validation(data)

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            raise _not_an_object(data)
        errors = {}
        fields = {field.field_name: field for field in self.fields.values()}
        for name, value in data.items():
            field = fields.get(name)
            if field is None:
                errors[name] = [UNKNOWN_FIELD]
            elif field.read_only:
                errors[name] = [READ_ONLY_FIELD]
            elif message := json_type_error(field, value):
                errors[name] = [message]
        if errors:
            raise serializers.ValidationError(errors)
        return super().to_internal_value(data)
