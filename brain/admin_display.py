"""Small renderers the admins share: values shown preformatted and colour-coded (each app names
its values' colours)."""

import json

from django.utils.html import format_html


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
