"""Validation shared by the model (admin forms) and the API serializers."""

from django.core.exceptions import ValidationError


def _strings(value):
    """Every key and string inside a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def validate_details(value):
    """`details` is a JSON object (or null) that PostgreSQL can store: jsonb refuses the NUL
    character and text that is not valid Unicode (lone surrogates) in any key or string."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise ValidationError("Must be a JSON object.", code="invalid")
    for text in _strings(value):
        if "\x00" in text:
            raise ValidationError("Null characters are not allowed.", code="null_characters")
        try:
            text.encode()
        except UnicodeEncodeError:
            raise ValidationError(
                "Surrogate characters are not allowed.", code="surrogate_characters"
            ) from None
