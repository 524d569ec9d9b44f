"""Field validators shared by the models, the API serializers and the admin forms."""

from django.core.exceptions import ValidationError

from .agent_types import agent_types


def _strings(value):
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
    """PostgreSQL stores neither a NUL character nor a lone surrogate, in text or in JSON: refuse
    them as bad input (the same messages as DRF's own CharField) rather than fail on save."""
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


def validate_json_object(value):
    """params_json is a JSON object (a dict of named parameters)."""
    if not isinstance(value, dict):
        raise ValidationError("Must be a JSON object.", code="not_an_object")
    validate_storable_text(value)


def validate_json_array(value):
    """capabilities_json is a JSON array."""
    if not isinstance(value, list):
        raise ValidationError("Must be a JSON array.", code="not_an_array")
    validate_storable_text(value)


def validate_agent_type(value):
    """An agent's type is one of the registry's (scheduling.agent_types)."""
    known = agent_types()
    if value not in known:
        raise ValidationError(
            f"Unknown agent type {value!r}: use one of {', '.join(known)}.",
            code="unknown_agent_type",
        )
