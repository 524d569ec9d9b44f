"""Cron expressions read with croniter, in the task's own time zone, stored in UTC.

Wall-clock semantics, as an operator reads a crontab: `30 2 * * *` means 02:30 local time.
- On a spring-forward day, a time inside the skipped hour does not exist; the run happens once,
  shifted forward by the gap (02:30 -> 03:30 in Europe/Berlin), never skipped.
- On a fall-back day, a time in the repeated hour exists twice; the run happens once, at the first
  occurrence (01:30 EDT in America/New_York, not again at 01:30 EST).
"""

import re
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import CroniterBadCronError, CroniterBadDateError, croniter
from django.core.exceptions import ValidationError

# Longer than any clock change forward (an hour; two for wartime double summer time).
_LONGEST_GAP = timedelta(hours=3)


@cache
def _known_timezones():
    """The IANA names, read once: available_timezones() walks the tz database on every call.
    Without `localtime` (the host's own zone, so a task's schedule would depend on the machine)
    and `Factory` (a placeholder, "Local time zone must be set")."""
    return frozenset(available_timezones()) - {"localtime", "Factory"}


# One element of a standard cron field: *, a number or a name, or a range, each with an optional
# step. croniter also reads extensions (R for a random minute, L, W, #, ?), which are refused.
_ELEMENT = re.compile(r"(?:\*|(?P<start>[0-9a-z]+)(?:-(?P<end>[0-9a-z]+))?)(?:/[0-9]+)?", re.ASCII)
# Field index -> name -> number (Sunday is 0, and 7 at the end of a range: mon-sun).
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_NAMES = {
    3: {name: number for number, name in enumerate(_MONTHS, 1)},
    4: {
        name: number
        for number, name in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])
    },
}


def _is_standard(fields):
    """Whether the five `fields` use only standard cron syntax (names in month and weekday
    only, ranges from low to high)."""
    for index, field in enumerate(fields):
        for element in field.lower().split(","):
            match = _ELEMENT.fullmatch(element)
            if match is None:
                return False
            names = _NAMES.get(index, {})
            values = [match["start"], match["end"]]
            if any(value and not value.isdigit() and value not in names for value in values):
                return False
            if match["end"]:
                start, end = (int(value) if value.isdigit() else names[value] for value in values)
                if match["end"] == "sun":
                    end = 7
                if start > end:
                    return False
    return True


def validate_timezone(name):
    """Raises ValidationError unless `name` is an IANA time zone; returns its ZoneInfo."""
    if name not in _known_timezones():
        raise ValidationError(
            f"Unknown time zone {name!r}: use an IANA name such as 'Europe/Berlin'."
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:  # e.g. a name with a path in it
        raise ValidationError(f"Unknown time zone {name!r}.") from error


def validate_cron(expression):
    """Raises ValidationError unless `expression` is a standard five-field cron that fires."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValidationError(
            f"A cron expression has exactly five fields (minute hour day month weekday); "
            f"got {len(fields)}."
        )
    if not _is_standard(fields):
        raise ValidationError(
            f"{expression!r} is not a standard cron expression: each field is *, numbers, "
            f"ranges (1-5, low to high), steps (*/15), lists (1,15) and, for months and "
            f"weekdays, names (jan, mon)."
        )
    if not croniter.is_valid(expression):
        raise ValidationError(f"{expression!r} is not a valid cron expression.")
    try:
        croniter(expression, datetime(2000, 1, 1)).get_next(datetime)
    except CroniterBadDateError as error:
        raise ValidationError(f"{expression!r} never fires (no such date).") from error
    except CroniterBadCronError as error:
        raise ValidationError(f"{expression!r} is not a valid cron expression.") from error


def next_run(expression, timezone_name, after):
    """The first time strictly after `after` (aware) at which `expression` fires, read in the
    time zone `timezone_name`, as an aware UTC datetime; None if it never fires again."""
    zone = ZoneInfo(timezone_name)
    after = after.astimezone(UTC)
    # Iterate naive local wall-clock times, so each wall-clock slot is seen exactly once. Slots in
    # an hour a spring-forward skipped run shifted forward by the gap, so one of them may fall
    # after `after` in UTC while its wall-clock time precedes `after`'s: start the gap earlier.
    local = after.astimezone(zone)
    gap = local.utcoffset() - (after - _LONGEST_GAP).astimezone(zone).utcoffset()
    local_start = local.replace(tzinfo=None) - max(gap, timedelta(0))
    iterator = croniter(expression, local_start)
    for _ in range(1000):
        try:
            candidate = iterator.get_next(datetime)
        except CroniterBadDateError:
            return None
        # fold=0 picks the first of two repeated times, and shifts a skipped time forward.
        moment = candidate.replace(tzinfo=zone, fold=0).astimezone(UTC)
        if moment > after:
            return moment
    return None
