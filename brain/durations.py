"""Ages written on command lines (`--older-than 90d`), shared by the retention commands."""

import re
from datetime import timedelta

# Unit letter: (timedelta argument, example for error messages).
UNITS = {"d": ("days", "90d"), "h": ("hours", "12h"), "m": ("minutes", "30m")}


def parse_age(text, *, units="dhm"):
    """`text`, a whole number followed by one of `units` (d days, h hours, m minutes; surrounding
    spaces ignored), as a timedelta: `90d`, `12h`, `30m`. Raises ValueError naming the accepted
    forms otherwise."""
    match = re.fullmatch(r"(\d+)([a-z])", text.strip())
    if not match or match[2] not in units:
        examples = [UNITS[unit][1] for unit in units]
        accepted = (
            examples[0] if len(examples) == 1 else f"{', '.join(examples[:-1])} or {examples[-1]}"
        )
        raise ValueError(f"{text!r} is not an age like {accepted}")
    return timedelta(**{UNITS[match[2]][0]: int(match[1])})
