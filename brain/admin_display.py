"""Small renderers the admins share: values shown preformatted and colour-coded (each app names
its values' colours)."""

import json

from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime


def badge(value, colours):
    """`value` in bold, in its colour from `colours` (grey when it has none)."""
    if value in (None, ""):
        return "-"
    return format_html(
        '<strong class="badge badge-{}" style="color: {}">{}</strong>',
        value,
        colours.get(value, "#666"),
        value,
    )


def date_time(value, *, zone=None):
    """A moment as the admin shows it (DATETIME_FORMAT), in the current time zone or in `zone`
    with its abbreviation; the date and the time each on one line, so that a narrow column
    breaks between them, never inside a date. "-" when there is none."""
    if value is None:
        return "-"
    value = localtime(value, zone)
    time = date_format(value, "H:i:s T" if zone else "TIME_FORMAT")
    return format_html(
        '<span class="nowrap">{}</span> <span class="nowrap">{}</span>',
        date_format(value, "DATE_FORMAT"),
        time,
    )


def duration(milliseconds):
    """A duration as a list shows it: `850 ms` under a second, else seconds to a tenth
    (`38.2 s`), on one line; "-" when there is none."""
    if milliseconds is None:
        return "-"
    if milliseconds < 1000:
        return f"{milliseconds}\N{NO-BREAK SPACE}ms"
    return f"{milliseconds / 1000:,.1f}\N{NO-BREAK SPACE}s"


def shortened(text, length, *, break_after=""):
    """`text` as a list shows it: past `length` characters, cut to `length` with an ellipsis
    as the last, the whole text in the element's title; "-" when empty. A narrow column may
    break it after each `break_after` character (after the dots of `system.health_check`)."""
    if text in (None, ""):
        return "-"
    shown = text if len(text) <= length else text[: length - 1] + "…"
    if break_after:
        parts = ((part,) for part in shown.split(break_after))
        shown = format_html_join(format_html("{}<wbr>", break_after), "{}", parts)
    if len(text) <= length:
        return shown
    return format_html('<span title="{}">{}</span>', text, shown)


def preformatted(text):
    """Text as it was written: line breaks and indentation kept, wrapped on overflow."""
    if text in (None, ""):
        return "-"
    return format_html(
        '<pre style="white-space: pre-wrap; margin: 0; max-width: 60em">{}</pre>', text
    )


def preformatted_json(value):
    """A JSON value indented, keys sorted, preformatted."""
    if value is None:
        return "-"
    return preformatted(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))
