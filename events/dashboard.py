"""The operator's events dashboard in the admin: stacked bar charts drawn as SVG on the server,
facets linking to the filtered changelist, the latest errors and criticals, and totals; its script
(events/static/events/dashboard.js) adds a live tail of /ws/events and grows the charts' bars as
new events arrive.

Its figures come from the cached statistics that `/api/events/stats` serves (the same entry,
computed on a miss by the same function, selectors.event_stats_json) and from a cached per-hour
series under the statistics' generation, so a write invalidates both at once. On a miss both are
sums of the event counts PostgreSQL keeps (events.counts), never a scan of the events.
"""

import json
from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.dateparse import parse_datetime

from . import cache
from .admin import SEVERITY_COLOURS
from .models import Severity
from .selectors import event_list_latest, event_series, event_stats_json

# Bars are placed in percent of the chart's width, so the SVG fills its card at any width; the
# height is fixed, in pixels, and so is the text (nothing is scaled).
CHART_HEIGHT = 160
# The gap between two bars, as a fraction of each bar's slot.
BAR_GAP = 0.1
# Rows the live tail keeps: the newest first, older ones dropped.
LIVE_ROWS = 50
SERIES_VARIANT = cache.stats_variant([("series", "severity per hour and day")])


def statistics():
    """The unfiltered statistics, exactly as `/api/events/stats` answers them: its cache entry,
    or computed and cached by the endpoint's own function (selectors.event_stats_json)."""

    return json.loads(cache.stats_body(cache.stats_variant([]), event_stats_json))


def series():
    """The per-hour and per-day counts by severity (selectors.event_series), cached with the
    statistics' TTL and generation."""

    def compute():
        return json.dumps(event_series(), cls=DjangoJSONEncoder).encode()

    data = json.loads(cache.stats_body(SERIES_VARIANT, compute))
    for buckets in data.values():
        for bucket in buckets:
            bucket["start"] = parse_datetime(bucket["start"])
    return data


def changelist_url(**filters):
    """The events changelist filtered by these query parameters."""
    url = reverse("admin:events_systemevent_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


def chart(buckets, *, step, label_format, label_every):
    """SVG geometry of a stacked bar chart: one bar per bucket, one segment per severity with a
    count, each segment linking to the changelist of its severity and time span. Horizontal
    positions and widths are percentages of the chart's width, vertical ones pixels."""
    width = 100 / len(buckets)
    tallest = max((sum(bucket["counts"].values()) for bucket in buckets), default=0) or 1
    bars = []
    for index, bucket in enumerate(buckets):
        start, end = bucket["start"], bucket["start"] + step
        total = sum(bucket["counts"].values())
        segments, bottom = [], CHART_HEIGHT
        for severity, colour in SEVERITY_COLOURS.items():
            count = bucket["counts"].get(severity, 0)
            if not count:
                continue
            height = max(count / tallest * CHART_HEIGHT, 1)
            bottom -= height
            segments.append(
                {
                    "severity": severity,
                    "count": count,
                    "colour": colour,
                    "y": round(bottom, 2),
                    "height": round(height, 2),
                    "url": changelist_url(
                        severity__exact=severity,
                        timestamp__gte=start.isoformat(),
                        timestamp__lt=end.isoformat(),
                    ),
                }
            )
        bars.append(
            {
                "x": round((index + BAR_GAP / 2) * width, 3),
                "width": round((1 - BAR_GAP) * width, 3),
                "start": start,
                "total": total,
                "segments": segments,
                "label": start.strftime(label_format) if index % label_every == 0 else "",
                "label_x": round((index + 0.5) * width, 3),
            }
        )
    return {
        "bars": bars,
        "tallest": tallest,
        "height": CHART_HEIGHT,
        "gap": BAR_GAP,
        "step": int(step.total_seconds()),
        "label_every": label_every,
    }


def _counted(rows, name):
    return [
        {"value": row[name], "count": row["count"], "url": changelist_url(**{name: row[name]})}
        for row in rows
    ]


def _timestamp(text):
    return parse_datetime(text) if text else None


def dashboard_view(request):
    """The dashboard page; staff with the permission to view events (admin_view checks staff)."""
    if not request.user.has_perm("events.view_systemevent"):
        raise PermissionDenied
    stats = statistics()
    data = series()
    latest = event_list_latest(severities=[Severity.CRITICAL, Severity.ERROR])
    context = {
        **admin.site.each_context(request),
        "title": "Events dashboard",
        "stats": stats,
        "first_event_at": _timestamp(stats["first_event_at"]),
        "last_event_at": _timestamp(stats["last_event_at"]),
        "severities": [
            {
                "name": severity,
                "count": stats["by_severity"][severity],
                "colour": colour,
                "url": changelist_url(severity__exact=severity),
            }
            for severity, colour in SEVERITY_COLOURS.items()
        ],
        "hourly": chart(
            data["per_hour"], step=timedelta(hours=1), label_format="%H:00", label_every=3
        ),
        "daily": chart(
            data["per_day"], step=timedelta(days=1), label_format="%m-%d", label_every=5
        ),
        "top_types": _counted(stats["by_type"][:10], "event_type"),
        "top_sources": _counted(stats["top_sources"], "source"),
        "latest": latest,
        "changelist_url": changelist_url(),
        "colours": SEVERITY_COLOURS,
        # What the live tail's script (events/static/events/dashboard.js) needs of the server.
        "live": {
            "colours": SEVERITY_COLOURS,
            "changelist_url": changelist_url(),
            "change_url": reverse("admin:events_systemevent_change", args=[0]),
            "rows": LIVE_ROWS,
        },
    }
    return TemplateResponse(request, "admin/events/dashboard.html", context)
