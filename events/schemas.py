"""The input rules of a new event, defined once as a msgspec Struct and used by every path that
creates events from outside (`POST /api/events`, `POST /api/events/bulk` in JSON and NDJSON,
`import_events`).

The Struct checks structure and JSON types in compiled code (unknown fields refused, no coercion:
a number is not a string); `validate_event()` adds what a type cannot say (text PostgreSQL can
store, the JSON depth and size limits, the ISO 8601 timestamp) and, for a refused item, one
message per field, worded as the rest of the API words them.
"""

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from brain.api.serializers import DateTimeField
from brain.api.strict import UNKNOWN_FIELD, json_type, wrong_json_type
from brain.validators import MAX_JSON_DEPTH, validate_storable_json, validate_storable_text

from .models import Severity

BULK_MAX_EVENTS = 1000

REQUIRED = "This field is required."
NOT_NULL = "This field may not be null."
BLANK = "This field may not be blank."
NOT_AN_OBJECT = "Must be a JSON object."

SeverityName = Literal[tuple(Severity.values)]


class EventIn(msgspec.Struct, forbid_unknown_fields=True):
    """A new event as a client sends it (SystemEventCreate)."""

    event_type: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
    severity: SeverityName
    message: Annotated[str, msgspec.Meta(min_length=1)]
    details: dict[str, Any] | None = None
    source: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    # Optional, and never null: left out, it is the time of storing.
    timestamp: (
        Annotated[str, msgspec.Meta(extra_json_schema={"format": "date-time"})] | msgspec.UnsetType
    ) = msgspec.UNSET


FIELDS = tuple(msgspec.inspect.type_info(EventIn).fields)
FIELD_NAMES = frozenset(field.name for field in FIELDS)
TEXT_FIELDS = ("event_type", "message", "source")
_TIMESTAMP = DateTimeField()


def _type_error(field_type, value):
    """The message refusing `value` for a field of `field_type` (msgspec.inspect), or None."""
    types = field_type.types if isinstance(field_type, msgspec.inspect.UnionType) else (field_type,)
    if value is None:
        return None if any(isinstance(t, msgspec.inspect.NoneType) for t in types) else NOT_NULL
    [base] = [t for t in types if not isinstance(t, msgspec.inspect.NoneType)]
    if isinstance(base, msgspec.inspect.Metadata):  # a schema annotation only
        base = base.type
    if isinstance(base, msgspec.inspect.DictType):
        return None if isinstance(value, dict) else NOT_AN_OBJECT
    if not isinstance(value, str):
        return f"Expected a JSON string, got a JSON {json_type(value)}."
    if isinstance(base, msgspec.inspect.LiteralType):
        return None if value in base.values else f'"{value}" is not a valid choice.'
    if base.min_length and len(value) < base.min_length:
        return BLANK
    if base.max_length is not None and len(value) > base.max_length:
        return f"Ensure this field has no more than {base.max_length} characters."
    return None


def _plainly_storable(details):
    """True when `details` is certainly storable JSON (validate_storable_json), read from its JSON
    text, which the C encoder writes many times faster than the validator walks the value: no
    NUL or surrogate escape, no infinity or NaN, and too few brackets to nest 32 levels. False
    only means: ask the validator."""
    text = json.dumps(details)
    return (
        "\\u0000" not in text
        and "\\ud" not in text
        and "Infinity" not in text
        and "NaN" not in text
        and text.count("{") + text.count("[") <= MAX_JSON_DEPTH
    )


def _value_error(name, value):
    """What the Struct's types cannot check, for a value of the right type, or None."""
    try:
        if name in TEXT_FIELDS and value is not None:
            if "\x00" in value or not value.isascii():
                validate_storable_text(value)
        elif name == "details" and value is not None and not _plainly_storable(value):
            validate_storable_json(value)
    except DjangoValidationError as error:
        return error.messages[0]
    return None


def _timestamp(value, errors):
    if value is msgspec.UNSET:
        return None
    if "\x00" not in value:
        # What DRF's field does for an ISO 8601 value with an offset (Django's parse_datetime
        # tries fromisoformat first, then the value is converted to UTC, since PostgreSQL refuses
        # offsets beyond 15:59), without its per-call overhead; anything else, a naive or
        # out-of-range value included, goes through the field itself.
        try:
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is not None:
                return parsed.astimezone(UTC)
        except (ValueError, OverflowError):
            pass
    try:
        return _TIMESTAMP.to_internal_value(value)
    except serializers.ValidationError as error:
        errors["timestamp"] = [str(error.detail[0])]
        return None


def _structure_errors(item):
    """Every field's message for an item the Struct refused."""
    if not isinstance(item, dict):
        return {"non_field_errors": [wrong_json_type("object", item)]}
    errors = {name: [UNKNOWN_FIELD] for name in item if name not in FIELD_NAMES}
    for field in FIELDS:
        if field.name not in item:
            if field.required:
                errors[field.name] = [REQUIRED]
            continue
        value = item[field.name]
        message = _type_error(field.type, value) or _value_error(field.name, value)
        if message is not None:
            errors[field.name] = [message]
        elif field.name == "timestamp":
            _timestamp(value, errors)
    return errors


def validate_event(item):
    """(the event as event_create's keyword arguments, None), or (None, {field: [message]}) when
    `item` (a parsed JSON value) breaks a rule."""
    try:
        event = msgspec.convert(item, EventIn, strict=True)
    except (msgspec.ValidationError, UnicodeEncodeError) as error:
        # msgspec compares a Literal's values as UTF-8, which a lone surrogate cannot be.
        return None, _structure_errors(item) or {"non_field_errors": [str(error)]}
    errors = {}
    for name in TEXT_FIELDS:
        message = _value_error(name, getattr(event, name))
        if message is not None:
            errors[name] = [message]
    if event.details is not None:
        message = _value_error("details", event.details)
        if message is not None:
            errors["details"] = [message]
    timestamp = _timestamp(event.timestamp, errors)
    if errors:
        return None, errors
    return {
        "event_type": event.event_type,
        "severity": event.severity,
        "message": event.message,
        "details": event.details,
        "source": event.source,
        "timestamp": timestamp,
    }, None


class Unparsable:
    """An item whose text could not be parsed: `errors` as validate_event's ({field: [message]},
    or {"non_field_errors": [message]})."""

    def __init__(self, errors):
        self.errors = errors


def validate_events(items, keys):
    """(events, errors): the events of `items` if every one is valid, and the errors of the
    refused ones under their key (from `keys`, in the same order). An Unparsable item is refused
    with its errors."""
    events, errors = [], {}
    for key, item in zip(keys, items, strict=True):
        if isinstance(item, Unparsable):
            errors[key] = item.errors
            continue
        event, item_errors = validate_event(item)
        if item_errors:
            errors[key] = item_errors
        elif not errors:
            events.append(event)
    return events, errors


def validate_batch(data):
    """The events of a JSON bulk body (a list of 1..BULK_MAX_EVENTS items), all or none: raises
    DRF's ValidationError naming the list's problem, or each refused item's index and fields."""
    if not isinstance(data, list):
        raise serializers.ValidationError({"non_field_errors": [wrong_json_type("array", data)]})
    if not data:
        raise serializers.ValidationError({"non_field_errors": ["This list may not be empty."]})
    if len(data) > BULK_MAX_EVENTS:
        raise serializers.ValidationError(
            {
                "non_field_errors": [
                    f"Ensure this field has no more than {BULK_MAX_EVENTS} elements."
                ]
            }
        )
    events, errors = validate_events(data, [str(index) for index in range(len(data))])
    if errors:
        raise serializers.ValidationError(errors)
    return events
