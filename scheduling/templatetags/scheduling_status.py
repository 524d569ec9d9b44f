"""`{% scheduler_status_panel %}`: the schedulers' heartbeats as a console card, for any admin
page (the events dashboard shows it) without that page's app importing the scheduling app."""

from datetime import timedelta

from django import template
from django.conf import settings
from django.utils import timezone

from ..selectors import scheduler_status

register = template.Library()


@register.inclusion_tag("admin/scheduling/scheduler_status.html")
def scheduler_status_panel(colours):
    """The heartbeats as /health/scheduler reports them; `colours` maps severities to the
    colours the page already uses (an unhealthy scheduler is drawn in the error colour)."""
    return {
        "scheduler": scheduler_status(
            now=timezone.now(),
            stale_after=timedelta(seconds=settings.SCHEDULER_STALE_AFTER_SECONDS),
        ),
        "colours": colours,
    }
