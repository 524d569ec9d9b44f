"""`/health/scheduler`: whether a scheduler is looping, public like the other health endpoints."""

from datetime import timedelta

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from .selectors import scheduler_status


@never_cache
@csrf_exempt  # reads only: a POST is a 405, not a CSRF failure
@require_safe
def scheduler_health(request):
    """The schedulers' heartbeats (selectors.scheduler_status): 200 while one loops, 503 when
    none does (none ever started, all stopped, or all silent for SCHEDULER_STALE_AFTER_SECONDS).
    It only reads: the error event for a silent scheduler is the next running scheduler's to
    record. /health/ready does not depend on it: a deployment may run its schedulers elsewhere,
    or none."""
    body = scheduler_status(
        now=timezone.now(), stale_after=timedelta(seconds=settings.SCHEDULER_STALE_AFTER_SECONDS)
    )
    status = 503 if body["status"] == "unhealthy" else 200
    if request.method == "HEAD":
        return HttpResponse(status=status, content_type="application/json")
    return JsonResponse(body, status=status)
