"""Serializer pieces shared by every app's API."""

from django.db import models
from rest_framework import serializers


class JSONField(serializers.JSONField):
    """DRF's JSONField, with a form field's JSON text nested too deeply for Python's decoder
    refused like any other invalid JSON (a JSON body is the parser's: brain.api.parsers)."""

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except RecursionError:
            self.fail("invalid")


class ModelSerializer(serializers.ModelSerializer):
    """The API's ModelSerializer: model JSON fields become brain.api.serializers.JSONField."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.JSONField: JSONField,
    }


class PrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """DRF's PrimaryKeyRelatedField, refusing a JSON number that is not an integer: DRF would
    take 36.9 as 36, and fail with a 500 on 1e400 (infinity)."""

    def to_internal_value(self, data):
        if isinstance(data, bool | float):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)
