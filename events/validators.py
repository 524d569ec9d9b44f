"""Validation shared by the model (admin forms) and the input rules (events.schemas)."""

from django.core.exceptions import ValidationError

from brain.validators import validate_storable_json


def validate_details(value):
    """`details` is a JSON object (or null) that Brain can store (validate_storable_json)."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise ValidationError("Must be a JSON object.", code="invalid")
    validate_storable_json(value)
