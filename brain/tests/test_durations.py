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
