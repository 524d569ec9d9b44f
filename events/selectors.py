"""Reads of system events: querysets for the views and statistics computed in the database."""

from datetime import UTC, timedelta

from django.db.models import BigIntegerField, Count, Max, Min, Q, Sum
from django.db.models.functions import Cast, Trunc
from django.utils import timezone

from brain.api.renderers import JSONRenderer

from .models import EventHourCount, EventTypeSourceCount, Severity, SystemEvent
from .serializers import EventStatsSerializer

TOP_TYPES = 100
TOP_SOURCES = 10
HOURS = 24
DAYS = 30
LATEST_PER_SEVERITY = 10


def event_list():
    """Every event, newest first (ordering `-timestamp, -id`). Filtering is the FilterSet's."""
    return SystemEvent.objects.all()


def event_get(*, event_id):
    """One event by id; raises SystemEvent.DoesNotExist. One SELECT."""
    return SystemEvent.objects.get(pk=event_id)


def event_list_by_type(*, event_type, queryset=None):
    """Events of one type (of `queryset`, default every event), newest first (index
    idx_system_events_type_ts, or idx_system_events_type_sev_ts with a severity)."""
    return (event_list() if queryset is None else queryset).filter(event_type=event_type)


def event_list_by_severity(*, severities, queryset=None):
    """Events of one or several severities (of `queryset`, default every event), newest first
    (index idx_system_events_sev_ts). No DISTINCT: there is no join to duplicate rows."""
    return (event_list() if queryset is None else queryset).filter(severity__in=severities)


def event_stats(*, queryset=None, now=None):
    """Statistics of `queryset`, or of every event when it is None: the total, counts by severity
    (all four, zero-filled), first and last event time; counts of the TOP_TYPES most frequent
    types; the TOP_SOURCES most frequent sources; and counts per hour for the last 24 hours (hours
    in UTC, oldest first, zero-filled; the last bucket is the current hour). Every event's come
    from the event counts (events.counts: sums of each group's rows, folded or not, so the read
    writes nothing); a queryset's from four aggregate queries over the events, never by loading
    rows."""
    now = now or timezone.now()
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=HOURS)
    if queryset is None:
        summary, by_type, top_sources, per_hour = _kept_stats(start, end)
    else:
        summary, by_type, top_sources, per_hour = _scanned_stats(queryset.order_by(), start, end)
    hours = [start + timedelta(hours=offset) for offset in range(HOURS)]
    return {
        "total": summary["total"],
        "by_severity": {severity: summary[severity] for severity in Severity.values},
        "by_type": list(by_type),
        "top_sources": list(top_sources),
        "first_event_at": summary["first_event_at"],
        "last_event_at": summary["last_event_at"],
        "last_24h": [{"hour": hour, "count": per_hour.get(hour, 0)} for hour in hours],
    }


def event_stats_json(*, queryset=None, now=None):
    """event_stats(queryset=..., now=...) as the JSON body of `GET /api/events/stats`: what the
    API answers and caches and the dashboard shows, the same bytes."""
    stats = event_stats(queryset=queryset, now=now)
    return JSONRenderer().render(EventStatsSerializer(stats).data)


def _summed_count():
    # PostgreSQL's sum of a bigint is a numeric: cast back to an integer.
    return Cast(Sum("count"), BigIntegerField())


def _kept_stats(start, end):
    by_severity = dict(EventHourCount.objects.values_list("severity").annotate(n=_summed_count()))
    summary = {
        **SystemEvent.objects.aggregate(
            first_event_at=Min("timestamp"), last_event_at=Max("timestamp")
        ),
        "total": sum(by_severity.values()),
        **{severity: by_severity.get(severity, 0) for severity in Severity.values},
    }
    by_type = (
        EventTypeSourceCount.objects.values("event_type")
        .annotate(count=_summed_count())
        .filter(count__gt=0)
        .order_by("-count", "event_type")
    )[:TOP_TYPES]
    top_sources = (
        EventTypeSourceCount.objects.filter(source__isnull=False)
        .values("source")
        .annotate(count=_summed_count())
        .filter(count__gt=0)
        .order_by("-count", "source")
    )[:TOP_SOURCES]
    per_hour = dict(
        EventHourCount.objects.filter(hour__gte=start, hour__lt=end)
        .values_list("hour")
        .annotate(n=_summed_count())
    )
    return summary, by_type, top_sources, per_hour


def _scanned_stats(queryset, start, end):
    summary = queryset.aggregate(
        total=Count("*"),
        first_event_at=Min("timestamp"),
        last_event_at=Max("timestamp"),
        **{severity: Count("id", filter=Q(severity=severity)) for severity in Severity.values},
    )
    by_type = (
        queryset.values("event_type").annotate(count=Count("*")).order_by("-count", "event_type")
    )[:TOP_TYPES]
    top_sources = (
        queryset.filter(source__isnull=False)
        .values("source")
        .annotate(count=Count("*"))
        .order_by("-count", "source")
    )[:TOP_SOURCES]
    per_hour = dict(
        queryset.filter(timestamp__gte=start, timestamp__lt=end)
        .annotate(hour=Trunc("timestamp", "hour", tzinfo=UTC))
        .values_list("hour")
        .annotate(count=Count("*"))
    )
    return summary, by_type, top_sources, per_hour


def event_series(*, queryset=None, now=None):
    """Counts by severity per hour over the last HOURS hours and per day over the last DAYS days
    (UTC, oldest first, zero-filled; the last bucket of each is the current hour or day) of
    `queryset`, or of every event when it is None. Every event's come from the event counts per
    hour and severity (events.counts); a queryset's from one aggregate query over the days'
    events grouped by hour and severity. The daily counts are sums of the hourly ones. Each
    bucket is `{"start": datetime, "counts": {severity: n}}`."""
    now = now or timezone.now()
    hour_start = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hour_end = hour_start + timedelta(hours=1)
    day_end = hour_start.replace(hour=0) + timedelta(days=1)
    day_start = day_end - timedelta(days=DAYS)
    if queryset is None:
        rows = (
            EventHourCount.objects.filter(hour__gte=day_start, hour__lt=day_end)
            .values_list("hour", "severity")
            .annotate(n=_summed_count())
        )
    else:
        rows = (
            queryset.order_by()
            .filter(timestamp__gte=day_start, timestamp__lt=day_end)
            .annotate(hour=Trunc("timestamp", "hour", tzinfo=UTC))
            .values_list("hour", "severity")
            .annotate(count=Count("*"))
        )
    hours = [hour_end - timedelta(hours=HOURS - offset) for offset in range(HOURS)]
    days = [day_start + timedelta(days=offset) for offset in range(DAYS)]
    per_hour = {hour: dict.fromkeys(Severity.values, 0) for hour in hours}
    per_day = {day: dict.fromkeys(Severity.values, 0) for day in days}
    for hour, severity, count in rows:
        if hour in per_hour:
            per_hour[hour][severity] += count
        per_day[hour.replace(hour=0)][severity] += count
    return {
        "per_hour": [{"start": hour, "counts": per_hour[hour]} for hour in hours],
        "per_day": [{"start": day, "counts": per_day[day]} for day in days],
    }


def event_list_latest(*, severities, limit=LATEST_PER_SEVERITY):
    """The newest `limit` events among these severities, newest first: one backward scan of
    idx_system_events_sev_ts per severity, each stopping after `limit` rows, merged here (one
    scan for an IN list would read every matching row before sorting)."""
    events = []
    for severity in severities:
        events.extend(event_list_by_severity(severities=[severity])[:limit])
    return sorted(events, key=lambda event: (event.timestamp, event.id), reverse=True)[:limit]
