"""Health endpoints, public and cheap: liveness does no I/O, readiness asks each real part."""

import logging

from django.core.cache import caches
from django.db import connections
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from events.lifecycle import record_health

logger = logging.getLogger(__name__)


def check_database(alias="default"):
    """True when a `SELECT 1` succeeds on the database connection `alias`."""
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        logger.warning("health: database %s unreachable", alias, exc_info=True)
        return False


def check_cache(alias="default"):
    """True when the cache answers a round trip. django-redis is set to swallow connection errors
    (a miss), so this asks the client directly rather than trusting a `get`."""
    cache = caches[alias]
    try:
        client = getattr(cache, "client", None)
        if client is not None and hasattr(client, "get_client"):
            return bool(client.get_client(write=True).ping())
        cache.set("health:ping", "1", 5)
        return cache.get("health:ping") == "1"
    except Exception:
        logger.warning("health: cache %s unreachable", alias, exc_info=True)
        return False


@never_cache
@require_safe
def live(request):
    """The process is up and serving; touches nothing else."""
    return _answer(request, {"status": "ok"})


@never_cache
@require_safe
def ready(request):
    """503 when the database is unreachable; 200 with `degraded` when only the cache is. A change
    of state is recorded as an event (events.lifecycle); an unchanged state writes nothing."""
    database_ok = check_database()
    cache_ok = check_cache()
    record_health(database_ok=database_ok, cache_ok=cache_ok)
    body = {
        "status": "ok"
        if database_ok and cache_ok
        else ("degraded" if database_ok else "unavailable"),
        "degraded": database_ok and not cache_ok,
        "checks": {
            "database": "ok" if database_ok else "unreachable",
            "cache": "ok" if cache_ok else "unreachable",
        },
    }
    return _answer(request, body, status=200 if database_ok else 503)


def _answer(request, body, status=200):
    """The JSON body, or for HEAD the same status and headers without one: WSGI servers such as
    gunicorn do not strip a HEAD response's body, and log each one they are handed."""
    if request.method == "HEAD":
        return HttpResponse(status=status, content_type="application/json")
    return JsonResponse(body, status=status)
