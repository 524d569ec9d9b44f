"""The input rules of an event, declared once: the SystemEventCreate Struct, and
SystemEventUpdate, its fields made optional. Every path that creates events from outside (`POST
/api/events`, `POST /api/events/bulk` in JSON and NDJSON, `import_events`) validates with
event_validate(), and `PUT`/`PATCH /api/events/{id}` with event_changes_validate(), through the
services; the OpenAPI schema is the Structs' JSON schema (brain.api.schema); a refused value's
message is read from the Struct's declaration and worded as DRF words it (its fields'
default_error_messages).

The Struct checks structure, JSON types and text lengths in compiled code (unknown fields
refused, no coercion: a number is not a string); event_validate() adds what a type cannot say
(text PostgreSQL can store, the JSON depth and size limits, an ISO 8601 timestamp inside the
window around the server's clock: EVENT_TIME_MAX_AGE_DAYS before it, EVENT_TIME_MAX_DRIFT_SECONDS
after it).
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, get_type_hints

import msgspec
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from brain.api.serializers import DateTimeField
from brain.api.strict import UNKNOWN_FIELD, wrong_json_type
from brain.validators import MAX_JSON_BYTES, MAX_JSON_DEPTH, validate_storable_text

from .models import Severity, SystemEvent
from .validators import validate_details

BULK_MAX_EVENTS = 1000


def _max_length(name):
    return SystemEvent._meta.get_field(name).max_length


class SystemEventCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A new event as a client sends it. Text with a NUL character or a lone surrogate is
    refused: PostgreSQL cannot store it."""

    event_type: Annotated[str, msgspec.Meta(min_length=1, max_length=_max_length("event_type"))]
    severity: Literal[tuple(Severity.values)]
    message: Annotated[str, msgspec.Meta(min_length=1, max_length=_max_length("message"))]
    details: Annotated[
        dict[str, Any] | None,
        msgspec.Meta(
            description=f"A JSON object, nested at most {MAX_JSON_DEPTH} levels deep, of at most "
            f"{MAX_JSON_BYTES} bytes as compact JSON text."
        ),
    ] = None
    source: Annotated[str, msgspec.Meta(max_length=_max_length("source"))] | None = None
    # Optional, and never null: left out, it is the time of storing.
    timestamp: (
        Annotated[
            str,
            msgspec.Meta(
                description="ISO 8601, stored in UTC; left out, the time of storing. At most "
                "EVENT_TIME_MAX_AGE_DAYS days (365 by default) before the server's clock and "
                "EVENT_TIME_MAX_DRIFT_SECONDS seconds (300) after it.",
                extra_json_schema={"format": "date-time"},
            ),
        ]
        | msgspec.UnsetType
    ) = msgspec.UNSET


SystemEventUpdate = msgspec.defstruct(
    "SystemEventUpdate",
    [
        (name, annotation | msgspec.UnsetType, msgspec.UNSET)
        for name, annotation in get_type_hints(SystemEventCreate, include_extras=True).items()
        if name != "timestamp"
    ],
    namespace={
        "__doc__": "A change to an event: the fields of a new event but its timestamp, each "
        "optional; omitted fields stay unchanged."
    },
    forbid_unknown_fields=True,
)

FIELDS = tuple(msgspec.inspect.type_info(SystemEventCreate).fields)
UPDATE_FIELDS = tuple(msgspec.inspect.type_info(SystemEventUpdate).fields)
TEXT_FIELDS = ("event_type", "message", "source")
_TIMESTAMP = DateTimeField()


def drf_message(field_class, code, **params):
    """DRF's wording of a field error: `field_class`'s default_error_messages[code]."""
    return str(field_class.default_error_messages[code]).format(**params)


class EventsRefused(Exception):
    """Input that breaks an event's rules: `errors` maps each field, or each refused item's key,
    to its messages."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


class Unparsable:
    """An item whose text could not be parsed: `errors` as event_validate's ({field: [message]},
    or {"non_field_errors": [message]})."""

    def __init__(self, errors):
        self.errors = errors


def _type_error(field_type, value):
    """The message refusing `value` for a field of `field_type` (msgspec.inspect), or None."""
    if isinstance(field_type, msgspec.inspect.Metadata):  # a schema annotation only
        field_type = field_type.type
    types = field_type.types if isinstance(field_type, msgspec.inspect.UnionType) else (field_type,)
    if value is None:
        nullable = any(isinstance(t, msgspec.inspect.NoneType) for t in types)
        return None if nullable else drf_message(serializers.Field, "null")
    [base] = [t for t in types if not isinstance(t, msgspec.inspect.NoneType)]
    if isinstance(base, msgspec.inspect.Metadata):  # a schema annotation only
        base = base.type
    if isinstance(base, msgspec.inspect.DictType):
        return None  # the details' own validator words it (_value_error)
    if not isinstance(value, str):
        return wrong_json_type("string", value)
    if isinstance(base, msgspec.inspect.LiteralType):
        if value in base.values:
            return None
        return drf_message(serializers.ChoiceField, "invalid_choice", input=value)
    if base.min_length and len(value) < base.min_length:
        if not value:
            return drf_message(serializers.CharField, "blank")
        return drf_message(serializers.CharField, "min_length", min_length=base.min_length)
    if base.max_length is not None and len(value) > base.max_length:
        return drf_message(serializers.CharField, "max_length", max_length=base.max_length)
    return None


def _plainly_storable(details):
    """True when `details` is certainly storable JSON (validate_storable_json), read from its JSON
    text, which the C encoder writes many times faster than the validator walks the value: no
    NUL or surrogate escape, no infinity or NaN, too few brackets to nest 32 levels, and at most
    MAX_JSON_BYTES long (escaped and spaced, it is never shorter than the compact UTF-8 text the
    bound measures). False only means: ask the validator."""
    text = json.dumps(details)
    return (
        len(text) <= MAX_JSON_BYTES
        and "\\u0000" not in text
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
        elif name == "details" and not (isinstance(value, dict) and _plainly_storable(value)):
            validate_details(value)
    except DjangoValidationError as error:
        return error.messages[0]
    return None


TOO_OLD = (
    "Ensure this time is no more than {days} days before the server's clock "
    "(EVENT_TIME_MAX_AGE_DAYS)."
)
TOO_NEW = (
    "Ensure this time is no more than {seconds} seconds after the server's clock "
    "(EVENT_TIME_MAX_DRIFT_SECONDS)."
)


def event_time_window():
    """(earliest, latest): the times between which a new event's timestamp may lie now,
    EVENT_TIME_MAX_AGE_DAYS before the server's clock and EVENT_TIME_MAX_DRIFT_SECONDS after it.
    A bulk reads it once per chunk of items."""
    now = datetime.now(UTC)
    return (
        now - timedelta(days=settings.EVENT_TIME_MAX_AGE_DAYS),
        now + timedelta(seconds=settings.EVENT_TIME_MAX_DRIFT_SECONDS),
    )


def _timestamp(value, errors, window):
    """`value` (ISO 8601 text) as an aware datetime in UTC inside `window` (event_time_window(),
    or None to read it now), or None with its message in `errors`; None for UNSET."""
    if value is msgspec.UNSET:
        return None
    timestamp = _parsed_timestamp(value, errors)
    if timestamp is None:
        return None
    earliest, latest = window or event_time_window()
    if timestamp < earliest:
        errors["timestamp"] = [TOO_OLD.format(days=settings.EVENT_TIME_MAX_AGE_DAYS)]
        return None
    if timestamp > latest:
        errors["timestamp"] = [TOO_NEW.format(seconds=settings.EVENT_TIME_MAX_DRIFT_SECONDS)]
        return None
    return timestamp


def _parsed_timestamp(value, errors):
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


def _structure_errors(item, fields):
    """Every field's message for an item the Struct of these `fields` refused."""
    if not isinstance(item, dict):
        return {"non_field_errors": [wrong_json_type("object", item)]}
    names = {field.name for field in fields}
    errors = {name: [UNKNOWN_FIELD] for name in item if name not in names}
    for field in fields:
        if field.name not in item:
            if field.required:
                errors[field.name] = [drf_message(serializers.Field, "required")]
            continue
        value = item[field.name]
        message = _type_error(field.type, value) or _value_error(field.name, value)
        if message is not None:
            errors[field.name] = [message]
        elif field.name == "timestamp":
            _timestamp(value, errors, None)
    return errors


def event_validate(item, *, window=None):
    """(the event as event_create's keyword arguments, None), or (None, {field: [message]}) when
    `item` (a parsed JSON value, or an Unparsable) breaks a rule. The one check of a new event's
    input, whichever path it comes by. `window` is event_time_window(), read once for many items
    (else when a timestamp is given)."""
    if isinstance(item, Unparsable):
        return None, item.errors
    try:
        event = msgspec.convert(item, SystemEventCreate, strict=True)
    except (msgspec.ValidationError, UnicodeEncodeError) as error:
        # msgspec compares a Literal's values as UTF-8, which a lone surrogate cannot be.
        return None, _structure_errors(item, FIELDS) or {"non_field_errors": [str(error)]}
    errors = {}
    for name in TEXT_FIELDS:
        message = _value_error(name, getattr(event, name))
        if message is not None:
            errors[name] = [message]
    if event.details is not None:
        message = _value_error("details", event.details)
        if message is not None:
            errors["details"] = [message]
    timestamp = _timestamp(event.timestamp, errors, window)
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


def event_changes_validate(item):
    """(the changes as event_update's data: only the fields sent, None), or (None, {field:
    [message]}) when `item` (a parsed JSON value) breaks a rule of SystemEventUpdate."""
    try:
        changes = msgspec.convert(item, SystemEventUpdate, strict=True)
    except (msgspec.ValidationError, UnicodeEncodeError) as error:
        return None, _structure_errors(item, UPDATE_FIELDS) or {"non_field_errors": [str(error)]}
    data = {
        field.name: getattr(changes, field.name)
        for field in UPDATE_FIELDS
        if getattr(changes, field.name) is not msgspec.UNSET
    }
    errors = {}
    for name, value in data.items():
        message = _value_error(name, value)
        if message is not None:
            errors[name] = [message]
    if errors:
        return None, errors
    return data, None


def bulk_items(data):
    """The (index as text, item) pairs of a JSON bulk body, a list of 1..BULK_MAX_EVENTS items;
    raises EventsRefused naming the list's problem, in DRF's wording of a list's errors."""
    if not isinstance(data, list):
        message = wrong_json_type("array", data)
    elif not data:
        message = drf_message(serializers.ListSerializer, "empty")
    elif len(data) > BULK_MAX_EVENTS:
        message = drf_message(serializers.ListSerializer, "max_length", max_length=BULK_MAX_EVENTS)
    else:
        return [(str(index), item) for index, item in enumerate(data)]
    raise EventsRefused({"non_field_errors": [message]})
