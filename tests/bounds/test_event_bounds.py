"""Every bound of an event's input (docs/bounds.md), as properties: a value just inside is
accepted and stored as sent, one just outside is refused naming the field and the bound, and
nothing refused is stored, on every path that creates events (POST /api/events, a JSON bulk, an
NDJSON bulk, import_events) and on PATCH where the field can change. The events admin has no
form: it only reads and deletes."""

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brain.validators import MAX_JSON_BYTES, MAX_JSON_DEPTH
from events.schemas import TOO_NEW, TOO_OLD
from events.tests.factories import SystemEventFactory

from .support import EVENT, SETTINGS, event_change_outcome, event_outcomes

pytestmark = pytest.mark.django_db

# Any character PostgreSQL can store: every code point but NUL and the surrogates.
CHARACTERS = st.characters(codec="utf-8", exclude_characters="\x00")
# How far inside or outside a bound a value lies.
STEPS = st.integers(min_value=0, max_value=3)
TEXT_BOUNDS = [("event_type", 50), ("message", 8192), ("source", 100)]


def _accepted_as_sent(outcomes, field, value):
    for outcome in outcomes:
        assert (outcome.path, outcome.accepted) == (outcome.path, True), outcome.errors
        assert [getattr(row, field) for row in outcome.stored] == [value], outcome.path


def _refused(outcomes, field, message):
    for outcome in outcomes:
        assert (outcome.path, outcome.accepted, outcome.errors) == (
            outcome.path,
            False,
            {field: [message]},
        )
        assert outcome.stored == []


@pytest.mark.parametrize(("field", "longest"), TEXT_BOUNDS)
@given(character=CHARACTERS, step=STEPS)
@SETTINGS
def test_a_text_is_taken_up_to_its_length_and_refused_beyond_it(
    staff_client, field, longest, character, step
):
    event = SystemEventFactory()
    inside, outside = character * (longest - step), character * (longest + 1 + step)
    too_long = f"Ensure this field has no more than {longest} characters."

    _accepted_as_sent(event_outcomes(staff_client, {**EVENT, field: inside}), field, inside)
    _accepted_as_sent([event_change_outcome(staff_client, event, {field: inside})], field, inside)
    _refused(event_outcomes(staff_client, {**EVENT, field: outside}), field, too_long)
    _refused([event_change_outcome(staff_client, event, {field: outside})], field, too_long)


@pytest.mark.parametrize("field", ["event_type", "message"])
@given(character=CHARACTERS)
@SETTINGS
def test_a_required_text_is_taken_from_one_character_and_refused_blank(
    staff_client, field, character
):
    event = SystemEventFactory()

    _accepted_as_sent(event_outcomes(staff_client, {**EVENT, field: character}), field, character)
    _refused(
        event_outcomes(staff_client, {**EVENT, field: ""}), field, "This field may not be blank."
    )
    _refused(
        [event_change_outcome(staff_client, event, {field: ""})],
        field,
        "This field may not be blank.",
    )


def _json_size(value):
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def _details_of_size(size, text):
    """{"k": text + padding}, `size` bytes as compact JSON text in UTF-8."""
    padding = size - _json_size({"k": text})
    assert padding >= 0
    return {"k": text + "x" * padding}


@given(text=st.text(CHARACTERS, max_size=20), step=STEPS)
@SETTINGS
def test_details_are_taken_up_to_max_json_bytes_and_refused_beyond(staff_client, text, step):
    event = SystemEventFactory()
    inside = _details_of_size(MAX_JSON_BYTES - step, text)
    outside_size = MAX_JSON_BYTES + 1 + step
    outside = _details_of_size(outside_size, text)
    too_large = (
        f"Ensure this field has no more than {MAX_JSON_BYTES} bytes of JSON text "
        f"(it has {outside_size})."
    )

    _accepted_as_sent(event_outcomes(staff_client, {**EVENT, "details": inside}), "details", inside)
    _accepted_as_sent(
        [event_change_outcome(staff_client, event, {"details": inside})], "details", inside
    )
    _refused(event_outcomes(staff_client, {**EVENT, "details": outside}), "details", too_large)
    _refused(
        [event_change_outcome(staff_client, event, {"details": outside})], "details", too_large
    )


def _nested(kinds):
    """An object holding, level by level, an object or an array of each kind in `kinds`: nested
    1 + len(kinds) levels deep."""
    value = 1
    for kind in reversed(kinds):
        value = {"k": value} if kind == "object" else [value]
    return {"top": value}


@given(kinds=st.lists(st.sampled_from(["object", "array"]), min_size=35, max_size=35), step=STEPS)
@SETTINGS
def test_details_are_taken_up_to_max_json_depth_and_refused_beyond(staff_client, kinds, step):
    event = SystemEventFactory()
    inside = _nested(kinds[: MAX_JSON_DEPTH - 1 - step])
    outside = _nested(kinds[: MAX_JSON_DEPTH + step])
    too_deep = f"Nested more than {MAX_JSON_DEPTH} levels deep."

    _accepted_as_sent(event_outcomes(staff_client, {**EVENT, "details": inside}), "details", inside)
    _refused(event_outcomes(staff_client, {**EVENT, "details": outside}), "details", too_deep)
    _refused([event_change_outcome(staff_client, event, {"details": outside})], "details", too_deep)


# Seconds the test may take without a value near an edge crossing it as the clock moves on.
MARGIN = 60
OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
SECONDS = st.integers(min_value=0, max_value=100_000)


@pytest.mark.parametrize(("days", "seconds"), [(365, 300), (2, 0)])
@given(
    zone=OFFSETS,
    inside_past=SECONDS,
    inside_future=SECONDS,
    outside_past=SECONDS,
    outside_future=SECONDS,
    microsecond=st.integers(min_value=0, max_value=999_999),
)
@SETTINGS
def test_a_time_is_taken_inside_the_window_and_refused_outside(
    staff_client,
    settings,
    days,
    seconds,
    zone,
    inside_past,
    inside_future,
    outside_past,
    outside_future,
    microsecond,
):
    settings.EVENT_TIME_MAX_AGE_DAYS, settings.EVENT_TIME_MAX_DRIFT_SECONDS = days, seconds
    now = datetime.now(UTC).replace(microsecond=microsecond)
    earliest, latest = now - timedelta(days=days), now + timedelta(seconds=seconds)
    window = latest - earliest - timedelta(seconds=2 * MARGIN)
    inside = [
        earliest + timedelta(seconds=MARGIN) + min(timedelta(seconds=inside_past), window),
        latest - timedelta(seconds=1) - min(timedelta(seconds=inside_future), window),
    ]

    for timestamp in inside:
        sent = timestamp.astimezone(zone).isoformat()
        _accepted_as_sent(
            event_outcomes(staff_client, {**EVENT, "timestamp": sent}), "timestamp", timestamp
        )
    _refused(
        event_outcomes(
            staff_client,
            {
                **EVENT,
                "timestamp": (earliest - timedelta(seconds=1 + outside_past))
                .astimezone(zone)
                .isoformat(),
            },
        ),
        "timestamp",
        TOO_OLD.format(days=days),
    )
    _refused(
        event_outcomes(
            staff_client,
            {
                **EVENT,
                "timestamp": (latest + timedelta(seconds=MARGIN + outside_future))
                .astimezone(zone)
                .isoformat(),
            },
        ),
        "timestamp",
        TOO_NEW.format(seconds=seconds),
    )


@pytest.mark.parametrize(
    ("timestamp", "message"),
    [
        ("0001-01-01T00:00:00-05:00", TOO_OLD.format(days=365)),
        ("1970-01-01T00:00:00Z", TOO_OLD.format(days=365)),
        ("9999-12-31T23:59:59+00:00", TOO_NEW.format(seconds=300)),
        ("0001-01-01T00:00:00+05:00", "Datetime value out of range."),
    ],
)
def test_a_time_far_outside_the_window_is_refused_on_every_path(staff_client, timestamp, message):
    _refused(event_outcomes(staff_client, {**EVENT, "timestamp": timestamp}), "timestamp", message)
