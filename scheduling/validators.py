"""Field validators shared by the models, the API serializers and the admin forms."""

from django.core.exceptions import ValidationError

from .agent_types import agent_types

NUL = "\x00"


def _contains_nul(value):
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_contains_nul(key) or _contains_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_contains_nul(item) for item in value)
    return False


def validate_no_nul(value):
    """PostgreSQL stores no NUL character, in text or in JSON; refuse it as bad input."""
    if _contains_nul(value):
        raise ValidationError("NUL characters are not allowed.", code="null_characters_not_allowed")


def validate_json_object(value):
    """params_json is a JSON object (a dict of named parameters)."""
    if not isinstance(value, dict):
        raise ValidationError("Must be a JSON object.", code="not_an_object")
    validate_no_nul(value)


def validate_json_array(value):
    """capabilities_json is a JSON array."""
    if not isinstance(value, list):
        raise ValidationError("Must be a JSON array.", code="not_an_array")
    validate_no_nul(value)


def validate_agent_type(value):
    """An agent's type is one of the registry's (scheduling.agent_types)."""
    known = agent_types()
    if value not in known:
        raise ValidationError(
            f"Unknown agent type {value!r}: use one of {', '.join(known)}.",
            code="unknown_agent_type",
        )
