"""Validators shared by every app's models, serializers and admin forms."""

import json
import math

from django.core.exceptions import ValidationError

# Deeper JSON is refused: real values are shallow, and the audit's diff and copy of a value, the
# validation below and the JSON encoder all recurse once per level (a value a few hundred levels
# deep would exhaust Python's recursion limit and fail the write with a 500).
MAX_JSON_DEPTH = 32
# Larger JSON values are refused: the size of a value as compact JSON text in UTF-8, the same
# bound for every JSON field (an event's details, a task's params_json, an agent's
# capabilities_json), so a page of 1,000 rows, their audit records and their cached copies stay a
# few megabytes.
MAX_JSON_BYTES = 16_384
# The largest integer every JSON reader keeps exact (2**53 - 1: a JavaScript number's integers).
MAX_JSON_INTEGER = 2**53 - 1
NOT_FINITE = "A number too large (beyond 1.8e308 in size), infinity or NaN: numbers must be finite."
DUPLICATE_KEY = 'the key "{key}" appears twice in one object.'


class DuplicateKeyError(ValueError):
    """A JSON object names the same key twice."""

    def __init__(self, key):
        super().__init__(DUPLICATE_KEY.format(key=key))
        self.key = key


def unique_keys(pairs):
    """The `object_pairs_hook` of every JSON reader of writes: the object as a dict, or
    DuplicateKeyError naming its first repeated key. Python's decoder would keep the last value
    of a repeated key silently; I-JSON (RFC 7493) forbids repeating one."""
    value = dict(pairs)
    if len(value) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKeyError(key)
            seen.add(key)
    return value


def _strings(value):
    """Every string inside a value: the value itself, or the keys and strings of a JSON value, in
    document order (without recursion: the depth is validate_storable_json's to bound)."""
    pending = [value]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            pending.extend(reversed([part for pair in value.items() for part in pair]))
        elif isinstance(value, list):
            pending.extend(reversed(value))


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


def json_size(value):
    """The size in bytes of `value` as compact JSON text in UTF-8 (text PostgreSQL can store)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return len(text) if text.isascii() else len(text.encode())


def validate_storable_json(value):
    """A JSON value nested at most MAX_JSON_DEPTH levels (an object or array is one level, each
    one inside it one more), with finite numbers only, whose text PostgreSQL can store
    (validate_storable_text), of at most MAX_JSON_BYTES as compact JSON text."""
    pending = [(value, 1)]
    while pending:
        part, depth = pending.pop()
        if isinstance(part, float) and not math.isfinite(part):
            # JSON has no infinity or NaN, and jsonb refuses them: a JSON number too large for a
            # float (1e400) is decoded as infinity, and a form field's JSON text or an ORM caller
            # can carry either.
            raise ValidationError(NOT_FINITE, code="not_finite")
        if isinstance(part, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise ValidationError(
                    f"Nested more than {MAX_JSON_DEPTH} levels deep.", code="too_deep"
                )
            items = part.values() if isinstance(part, dict) else part
            pending.extend((item, depth + 1) for item in items)
    validate_storable_text(value)
    size = json_size(value)
    if size > MAX_JSON_BYTES:
        raise ValidationError(
            f"Ensure this field has no more than {MAX_JSON_BYTES} bytes of JSON text "
            f"(it has {size}).",
            code="too_large",
        )
