"""Brain's URLs plus the four reference views issue 3 calibrates its targets with ("floors measured
on this machine for reference", as fractions of the bare `/health/live` view's requests/s): a DRF
view returning a constant (0.69 there), a bare view reading one value from django-redis (0.56),
one primary-key SELECT (0.33) and one INSERT (0.28). The issue does not say how they were
written; here each does its one thing and nothing else: the DRF view without authentication,
permission or throttle, the SELECT and the INSERT through Django's cursor (no model, so no audit
record), the INSERT in autocommit. Served only by bench/events.py's server, so a run says how its
machine compares with the one the targets were set on."""

from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from brain.urls import handler404, handler500  # noqa: F401
from brain.urls import urlpatterns as brain_urlpatterns

CACHED_KEY = "bench:reference"
# Rows of the INSERT reference carry the type bench/events.py deletes when it ends.
INSERT_SQL = (
    "INSERT INTO system_events (event_type, severity, message, details, source, timestamp)"
    " VALUES ('bench', 'info', 'reference insert', '{}', 'wrk', now())"
)


class Constant(APIView):
    """DRF's request and response handling, and nothing else."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    def get(self, request):
        return Response({"status": "ok"})


@never_cache
@require_safe
def cache_read(request):
    return JsonResponse({"value": cache.get(CACHED_KEY)})


@never_cache
@require_safe
def select_by_pk(request, pk):
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, event_type FROM system_events WHERE id = %s", [pk])
        row = cursor.fetchone()
    return JsonResponse({"id": row and row[0]})


@csrf_exempt
@require_POST
def insert(request):
    """One INSERT in autocommit: no model, no audit record, no invalidation."""
    with connection.cursor() as cursor:
        cursor.execute(INSERT_SQL)
    return JsonResponse({"status": "ok"}, status=201)


urlpatterns = [
    *brain_urlpatterns,
    path("reference/drf-constant", Constant.as_view()),
    path("reference/cache-read", cache_read),
    path("reference/select/<int:pk>", select_by_pk),
    path("reference/insert", insert),
]
