"""Validators shared by every app's models, serializers and admin forms."""

from django.core.exceptions import ValidationError


def _strings(value):
    """Every string inside a value: the value itself, or the keys and strings of a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def validate_storable_text(value):
    """Text, or any key or string inside a JSON value, that PostgreSQL can store: it stores
    neither the NUL character nor a lone surrogate, in text or in jsonb. Refused as bad input,
    with the same messages and codes as DRF's CharField, rather than failing on save."""
    for text in _strings(value):
        if "\x00" in text:
            raise ValidationError(
                "Null characters are not allowed.", code="null_characters_not_allowed"
            )
        surrogate = next((char for char in text if 0xD800 <= ord(char) <= 0xDFFF), None)
        if surrogate is not None:
            raise ValidationError(
                f"Surrogate characters are not allowed: U+{ord(surrogate):X}.",
                code="surrogate_characters_not_allowed",
            )
