"""Ages written on command lines (`--older-than 90d`), shared by the retention commands."""

import re
from datetime import timedelta

# Unit letter: (timedelta argument, example for error messages).
UNITS = {"d": ("days", "90d"), "h": ("hours", "12h"), "m": ("minutes", "30m")}
# The longest age a purge takes, in days: a century, well inside the dates Python can compute.
MAX_AGE_DAYS = 36_500


def parse_age(text, *, units="dhm", zero=False):
    """`text`, a whole number followed by one of `units` (d days, h hours, m minutes; surrounding
    spaces ignored), as a timedelta of more than zero (or zero, with `zero`) and at most
    MAX_AGE_DAYS: `90d`, `12h`, `30m`. Raises ValueError naming the accepted forms otherwise."""
    match = re.fullmatch(r"(\d+)([a-z])", text.strip())
    examples = [UNITS[unit][1] for unit in units]
    accepted = (
        examples[0] if len(examples) == 1 else f"{', '.join(examples[:-1])} or {examples[-1]}"
    )
    if not match or match[2] not in units:
        raise ValueError(f"{text!r} is not an age like {accepted}")
    try:
        age = timedelta(**{UNITS[match[2]][0]: int(match[1])})
    except OverflowError:  # beyond what timedelta holds: beyond the bound too
        age = None
    if age is None or age > timedelta(days=MAX_AGE_DAYS):
        raise ValueError(f"{text!r} is longer than the longest age, {MAX_AGE_DAYS}d")
    if not age and not zero:
        raise ValueError(f"{text!r} is zero: give an age of more than zero, like {accepted}")
    return age
