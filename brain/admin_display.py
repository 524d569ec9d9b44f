"""Small renderers the admins share: values shown preformatted and colour-coded."""

import json

from django.utils.html import format_html

SEVERITY_COLOURS = {
    "info": "#417690",
    "warning": "#b36b00",
    "error": "#ba2121",
    "critical": "#5c0a0a",
}
STATUS_COLOURS = {
    "success": "#2e7d32",
    "failed": "#ba2121",
    "timeout": "#b36b00",
    "running": "#417690",
    "pending": "#666",
    "cancelled": "#666",
    "disabled": "#666",
    "completed": "#2e7d32",
}


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
