"""Validation shared by the model (admin forms) and the API serializers."""

from django.core.exceptions import ValidationError

NUL = "\x00"


def _contains_nul(value):
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(NUL in key or _contains_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_contains_nul(item) for item in value)
    return False


def validate_details(value):
    """`details` is a JSON object (or null) that PostgreSQL can store: jsonb refuses the NUL
    character anywhere in a key or a string."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise ValidationError("Must be a JSON object.", code="invalid")
    if _contains_nul(value):
        raise ValidationError("Null characters are not allowed.", code="null_characters_not_allowed")
