"""Serializer pieces shared by every app's API."""

import re

from django.db import models
from rest_framework import serializers
from rest_framework.settings import api_settings
from rest_framework.utils import humanize_datetime

from brain.validators import NOT_FINITE


class JSONField(serializers.JSONField):
    """DRF's JSONField, with a form field's JSON text nested too deeply for Python's decoder
    refused like any other invalid JSON (a JSON body is the parser's: brain.api.parsers), and a
    number too large for a float in a parsed value (decoded as infinity) refused as
    brain.validators refuses it, not as "Value must be valid JSON."."""

    default_error_messages = {"not_finite": NOT_FINITE}

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except RecursionError:
            self.fail("invalid")
        except serializers.ValidationError:
            if isinstance(data, str):
                raise
            # A parsed JSON value fails DRF's check (json.dumps with allow_nan=False) only for a
            # number that is not finite.
            self.fail("not_finite")


class DateTimeField(serializers.DateTimeField):
    """DRF's DateTimeField, with a NUL character making the text malformed like any other stray
    character: datetime.fromisoformat() stops reading at one, so "2024-01-01T00:00:00\x00Z"
    would be taken as the naive 2024-01-01T00:00:00."""

    def to_internal_value(self, value):
        if isinstance(value, str) and "\x00" in value:
            formats = getattr(self, "input_formats", api_settings.DATETIME_INPUT_FORMATS)
            self.fail("invalid", format=humanize_datetime.datetime_formats(formats))
        return super().to_internal_value(value)


class ModelSerializer(serializers.ModelSerializer):
    """The API's ModelSerializer: model JSON and date-time fields become this module's. A model
    validator's limit given as a function (`MaxValueValidator(function)`, which Django reads at
    validation time) is read when the serializer builds its fields, so the API's error message
    and the schema show the number, as DRF shows a fixed one."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.JSONField: JSONField,
        models.DateTimeField: DateTimeField,
    }

    def build_standard_field(self, field_name, model_field):
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        for limit in ("min_value", "max_value"):
            if callable(kwargs.get(limit)):
                kwargs[limit] = kwargs[limit]()
        return field_class, kwargs


class PrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """DRF's PrimaryKeyRelatedField for integer keys, taking an integer or a string of ASCII
    digits only: DRF would take 36.9 as 36, "1_0" as 10 and an Arabic-Indic one as 1, and fail
    with a 500 on 1e400 (infinity) or on a list nested hundreds of levels deep."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not (
            isinstance(data, int) or (isinstance(data, str) and _DIGITS.fullmatch(data))
        ):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)


_DIGITS = re.compile(r"[0-9]+")
