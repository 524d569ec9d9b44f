from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from scheduling.cron import _known_timezones, next_run, validate_cron, validate_timezone


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("61 * * * *", "is not a valid cron expression"),
        ("0 0 31 2 *", "never fires"),
        ("0 0 * * * *", "exactly five fields"),
        ("@daily", "exactly five fields"),
        ("every tuesday", "exactly five fields"),
        ("a b c d e", "is not a standard cron expression"),
        # croniter's extensions: a random minute, last day, nearest weekday, nth weekday, any.
        ("R * * * *", "is not a standard cron expression"),
        ("0 0 L * *", "is not a standard cron expression"),
        ("0 0 15W * *", "is not a standard cron expression"),
        ("0 0 * * 5#5", "is not a standard cron expression"),
        ("0 0 * * ?", "is not a standard cron expression"),
        ("59-0 * * * *", "is not a standard cron expression"),
        ("0 0 * mon *", "is not a standard cron expression"),
        ("0 0 * * fri-mon", "is not a standard cron expression"),
        ("0 0 * dec-jan *", "is not a standard cron expression"),
    ],
)
def test_invalid_cron_is_refused_with_a_clear_message(expression, message):
    with pytest.raises(ValidationError, match=message):
        validate_cron(expression)


@pytest.mark.parametrize(
    "expression",
    [
        "*/5 9-17 * * 1-5",
        "0 0 1 jan,jul *",
        "30 6 * * MON-FRI",
        "0 1-23/2 1,15 * 0",
        "0 0 * * 7",
        "0 0 * * sat-sun",
        "0 0 1-31/2 feb-nov *",
    ],
)
def test_standard_cron_passes(expression):
    validate_cron(expression)


@pytest.mark.parametrize("name", ["Mars/Olympus", "localtime", "Factory"])
def test_unknown_timezone_is_refused(name):
    with pytest.raises(ValidationError, match="Unknown time zone"):
        validate_timezone(name)


def test_next_run_is_read_in_the_task_timezone_and_stored_in_utc():
    after = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)

    assert next_run("0 9 * * *", "Europe/Berlin", after) == datetime(2026, 1, 11, 8, 0, tzinfo=UTC)


def test_spring_forward_gap_runs_once_shifted_forward_in_berlin():
    # 2026-03-29: Berlin clocks jump from 02:00 CET to 03:00 CEST; 02:30 does not exist.
    after = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)

    first = next_run("30 2 * * *", "Europe/Berlin", after)
    second = next_run("30 2 * * *", "Europe/Berlin", first)

    assert first == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST
    assert second == datetime(2026, 3, 30, 0, 30, tzinfo=UTC)  # 02:30 CEST next day


def test_every_slot_in_a_skipped_hour_runs_once_shifted_forward():
    # 2027-03-28: Berlin clocks jump from 02:00 CET to 03:00 CEST.
    runs, after = [], datetime(2027, 3, 27, 12, 0, tzinfo=UTC)
    for _ in range(5):
        after = next_run("*/15 2 * * *", "Europe/Berlin", after)
        runs.append(after)

    assert runs == [
        datetime(2027, 3, 28, 1, 0, tzinfo=UTC),  # 02:00 -> 03:00 CEST
        datetime(2027, 3, 28, 1, 15, tzinfo=UTC),  # 02:15 -> 03:15 CEST
        datetime(2027, 3, 28, 1, 30, tzinfo=UTC),
        datetime(2027, 3, 28, 1, 45, tzinfo=UTC),
        datetime(2027, 3, 29, 0, 0, tzinfo=UTC),  # 02:00 CEST the next day
    ]


def test_an_hourly_schedule_runs_once_per_wall_clock_slot_across_a_skipped_hour():
    runs, after = [], datetime(2027, 3, 28, 0, 50, tzinfo=UTC)  # 01:50 CET
    for _ in range(3):
        after = next_run("0,30 * * * *", "Europe/Berlin", after)
        runs.append(after)

    # 02:00 and 02:30 do not exist: they run at 03:00 and 03:30 CEST, as do 03:00 and 03:30
    # themselves, once each.
    assert runs == [
        datetime(2027, 3, 28, 1, 0, tzinfo=UTC),
        datetime(2027, 3, 28, 1, 30, tzinfo=UTC),
        datetime(2027, 3, 28, 2, 0, tzinfo=UTC),  # 04:00 CEST
    ]


def test_spring_forward_gap_runs_once_in_new_york():
    # 2026-03-08: New York jumps from 02:00 EST to 03:00 EDT.
    after = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)

    first = next_run("30 2 * * *", "America/New_York", after)

    assert first == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT


def test_fall_back_repeated_hour_fires_once_in_new_york():
    # 2026-11-01: New York repeats 01:00-02:00 (EDT, then EST).
    after = datetime(2026, 10, 31, 12, 0, tzinfo=UTC)

    first = next_run("30 1 * * *", "America/New_York", after)
    second = next_run("30 1 * * *", "America/New_York", first)

    assert first == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, the first occurrence
    assert second == datetime(
        2026, 11, 2, 6, 30, tzinfo=UTC
    )  # next day, 01:30 EST; not 06:30 on the 1st


def test_fall_back_repeated_hour_fires_once_in_berlin():
    # 2026-10-25: Berlin repeats 02:00-03:00 (CEST, then CET).
    after = datetime(2026, 10, 24, 12, 0, tzinfo=UTC)

    first = next_run("30 2 * * *", "Europe/Berlin", after)
    second = next_run("30 2 * * *", "Europe/Berlin", first)

    assert first == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert second == datetime(2026, 10, 26, 1, 30, tzinfo=UTC)


def test_next_run_is_strictly_after():
    after = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)

    assert next_run("0 9 * * *", "UTC", after) == datetime(2026, 1, 2, 9, 0, tzinfo=UTC)


def test_next_run_of_a_date_in_the_past_only_is_none():
    # Feb 29 exists; "0 0 29 2 *" fires in leap years only, so it still has a next run.
    assert next_run("0 0 29 2 *", "UTC", datetime(2026, 3, 1, tzinfo=UTC)) == datetime(
        2028, 2, 29, tzinfo=UTC
    )


def test_the_time_zone_names_are_read_once_for_every_validation():
    _known_timezones.cache_clear()

    validate_timezone("Europe/Berlin")
    validate_timezone("America/New_York")
    with pytest.raises(ValidationError):
        validate_timezone("Mars/Olympus")

    info = _known_timezones.cache_info()
    assert (info.misses, info.hits) == (1, 2)
