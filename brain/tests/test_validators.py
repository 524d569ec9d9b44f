import pytest
from django.core.exceptions import ValidationError

from brain.validators import MAX_JSON_DEPTH, validate_storable_json, validate_storable_text


def _nested(depth, leaf="leaf"):
    """A JSON value `depth` levels deep: objects and arrays in turn around `leaf`."""
    value = leaf
    for level in range(depth):
        value = {"k": value} if level % 2 else [value]
    return value


@pytest.mark.parametrize(
    "value", ["text", {"key": ["text", 1, None, {"nested": "é"}]}, [], None, 3]
)
def test_storable_text_is_accepted(value):
    assert validate_storable_text(value) is None


@pytest.mark.parametrize(
    ("value", "message", "code"),
    [
        ("a\x00b", "Null characters are not allowed.", "null_characters_not_allowed"),
        ({"k\x00": 1}, "Null characters are not allowed.", "null_characters_not_allowed"),
        (
            ["\ud800"],
            "Surrogate characters are not allowed: U+D800.",
            "surrogate_characters_not_allowed",
        ),
        (
            {"k": {"\udfff": 1}},
            "Surrogate characters are not allowed: U+DFFF.",
            "surrogate_characters_not_allowed",
        ),
    ],
)
def test_text_postgresql_cannot_store_is_refused(value, message, code):
    with pytest.raises(ValidationError) as raised:
        validate_storable_text(value)

    assert (raised.value.messages, raised.value.code) == ([message], code)


def test_storable_text_is_found_at_any_depth_without_recursion():
    with pytest.raises(ValidationError, match="Null characters"):
        validate_storable_text(_nested(5000, leaf="a\x00"))


@pytest.mark.parametrize(
    "value", [_nested(MAX_JSON_DEPTH), {"a": [1, {"b": None}], "c": []}, "text", None]
)
def test_json_up_to_the_depth_limit_is_storable(value):
    assert validate_storable_json(value) is None


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 100_000])
def test_json_deeper_than_the_limit_is_refused(depth):
    with pytest.raises(ValidationError) as raised:
        validate_storable_json(_nested(depth))

    assert (raised.value.messages, raised.value.code) == (
        ["Nested more than 32 levels deep."],
        "too_deep",
    )


def test_storable_json_checks_its_text_too():
    with pytest.raises(ValidationError, match="Surrogate characters are not allowed: U\\+D800"):
        validate_storable_json({"k": ["\ud800"]})


@pytest.mark.parametrize("number", [float("inf"), float("-inf"), float("nan")])
def test_json_numbers_must_be_finite(number):
    with pytest.raises(ValidationError) as raised:
        validate_storable_json({"k": [number]})

    assert (raised.value.messages, raised.value.code) == (
        ["A number too large (beyond 1.8e308 in size), infinity or NaN: numbers must be finite."],
        "not_finite",
    )
