"""Field validators shared by the models, the API serializers and the admin forms."""

from django.conf import settings
from django.core.exceptions import ValidationError

from brain.validators import validate_storable_json

# Re-exported: the models and migrations name it here.
from brain.validators import validate_storable_text as validate_storable_text

from .agent_types import agent_types


def task_max_timeout_seconds():
    """The longest timeout_seconds a task may have (TASK_MAX_TIMEOUT_SECONDS), read when a value
    is validated: the limit of the field's MaxValueValidator, which DRF and the admin apply."""
    return settings.TASK_MAX_TIMEOUT_SECONDS


def validate_json_object(value):
    """params_json is a JSON object (a dict of named parameters)."""
    if not isinstance(value, dict):
        raise ValidationError("Must be a JSON object.", code="not_an_object")
    validate_storable_json(value)


def validate_json_array(value):
    """capabilities_json is a JSON array."""
    if not isinstance(value, list):
        raise ValidationError("Must be a JSON array.", code="not_an_array")
    validate_storable_json(value)


def validate_agent_type(value):
    """An agent's type is one of the registry's (scheduling.agent_types)."""
    known = agent_types()
    if value not in known:
        raise ValidationError(
            f"Unknown agent type {value!r}: use one of {', '.join(known)}.",
            code="unknown_agent_type",
        )
