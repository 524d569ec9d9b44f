from datetime import timedelta

import pytest

from brain.durations import parse_age


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("90d", timedelta(days=90)),
        ("12h", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        (" 7d ", timedelta(days=7)),
    ],
)
def test_ages(text, age):
    assert parse_age(text) == age


@pytest.mark.parametrize(
    ("text", "units", "message"),
    [
        ("1w", "dhm", "'1w' is not an age like 90d, 12h or 30m"),
        ("-1d", "dhm", "'-1d' is not an age like 90d, 12h or 30m"),
        ("12h", "d", "'12h' is not an age like 90d"),
        ("1y", "d", "'1y' is not an age like 90d"),
    ],
)
def test_a_bad_age_is_refused_naming_the_accepted_forms(text, units, message):
    with pytest.raises(ValueError) as raised:
        parse_age(text, units=units)

    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("text", "zero", "message"),
    [
        ("0d", False, "'0d' is zero: give an age of more than zero, like 90d, 12h or 30m"),
        ("36501d", False, "'36501d' is longer than the longest age, 36500d"),
        ("999999999d", True, "'999999999d' is longer than the longest age, 36500d"),
        ("9" * 20 + "m", False, f"'{'9' * 20}m' is longer than the longest age, 36500d"),
    ],
)
def test_an_age_beyond_its_bounds_is_refused_naming_them(text, zero, message):
    with pytest.raises(ValueError) as raised:
        parse_age(text, zero=zero)

    assert str(raised.value) == message


def test_the_bounds_themselves_are_ages():
    assert (parse_age("0m", zero=True), parse_age("36500d")) == (
        timedelta(0),
        timedelta(days=36_500),
    )
