import pytest
from django.core.exceptions import ValidationError

from brain.validators import validate_storable_text


@pytest.mark.parametrize("value", ["text", {"key": ["text", 1, None, {"nested": "é"}]}, [], None, 3])
def test_storable_text_is_accepted(value):
    assert validate_storable_text(value) is None


@pytest.mark.parametrize(
    ("value", "message", "code"),
    [
        ("a\x00b", "Null characters are not allowed.", "null_characters_not_allowed"),
        ({"k\x00": 1}, "Null characters are not allowed.", "null_characters_not_allowed"),
        (["\ud800"], "Surrogate characters are not allowed: U+D800.", "surrogate_characters_not_allowed"),
        ({"k": {"\udfff": 1}}, "Surrogate characters are not allowed: U+DFFF.", "surrogate_characters_not_allowed"),
    ],
)
def test_text_postgresql_cannot_store_is_refused(value, message, code):
    with pytest.raises(ValidationError) as raised:
        validate_storable_text(value)

    assert (raised.value.messages, raised.value.code) == ([message], code)
