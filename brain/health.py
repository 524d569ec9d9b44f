"""Health endpoints, public and cheap: liveness does no I/O, readiness asks each real part."""

import logging
import threading
import time
from functools import partial

from django.conf import settings
from django.core.cache import caches
from django.db import connections
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from .signals import readiness_checked

logger = logging.getLogger(__name__)

# Each check gets this long; a probe answers within about this, whatever state PostgreSQL and
# Redis are in (refusing, hung, or slow to come back).
CHECK_TIMEOUT_SECONDS = 0.5


def check_database(alias="default"):
    """True when a `SELECT 1` succeeds on the database `alias`: on a connection of its pool, taken
    within CHECK_TIMEOUT_SECONDS, or on Django's connection when it has no pool."""
    connection = connections[alias]
    try:
        pool = getattr(connection, "pool", None)
        if pool is None:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT 1")
            finally:
                connection.close()
        else:
            pool.open()
            with pool.connection(timeout=CHECK_TIMEOUT_SECONDS) as pooled:
                pooled.execute("SELECT 1")
        return True
    except Exception:
        logger.warning("health: database %s unreachable", alias, exc_info=True)
        return False


def within(timeout, *checks):
    """Runs `checks` side by side, each in a thread of its own, and gives their results; a check
    still running after `timeout` seconds counts as failed (its thread is left to finish: a hung
    connection must not hold the probe)."""
    results = [False] * len(checks)

    def run(index, check):
        results[index] = check()

    threads = [
        threading.Thread(target=run, args=(index, check), daemon=True, name="health-check")
        for index, check in enumerate(checks)
    ]
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0))
    return list(results)


def check_cache(alias="default"):
    """True when the cache answers a round trip. django-redis is set to swallow connection errors
    (a miss), so this asks the client directly rather than trusting a `get`."""
    try:
        return bool(caches[alias].client.get_client(write=True).ping())
    except Exception:
        logger.warning("health: cache %s unreachable", alias, exc_info=True)
        return False


@never_cache
@csrf_exempt  # reads only: a POST is a 405, not a CSRF failure
@require_safe
def live(request):
    """The process is up and serving; touches nothing else."""
    return _answer(request, {"status": "ok"})


@never_cache
@csrf_exempt  # reads only: a POST is a 405, not a CSRF failure
@require_safe
def ready(request):
    """503 when the database is unreachable; 200 with `degraded` when only the cache or a replica
    (DATABASE_REPLICAS, each reported under `replicas`) is; within about CHECK_TIMEOUT_SECONDS
    either way. The result is sent as brain.signals.readiness_checked; a receiver that fails is
    logged (Signal.send_robust) and the probe still answers."""
    replicas = settings.DATABASE_REPLICAS
    database_ok, cache_ok, *replicas_ok = within(
        CHECK_TIMEOUT_SECONDS,
        check_database,
        check_cache,
        *(partial(check_database, alias) for alias in replicas),
    )
    readiness_checked.send_robust(sender=None, database_ok=database_ok, cache_ok=cache_ok)
    degraded = database_ok and not (cache_ok and all(replicas_ok))
    checks = {
        "database": "ok" if database_ok else "unreachable",
        "cache": "ok" if cache_ok else "unreachable",
    }
    if replicas:
        checks["replicas"] = {
            alias: "ok" if ok else "unreachable" for alias, ok in zip(replicas, replicas_ok)
        }
    body = {
        "status": "unavailable" if not database_ok else ("degraded" if degraded else "ok"),
        "degraded": degraded,
        "checks": checks,
    }
    return _answer(request, body, status=200 if database_ok else 503)


def _answer(request, body, status=200):
    """The JSON body, or for HEAD the same status and headers without one: WSGI servers such as
    gunicorn do not strip a HEAD response's body, and log each one they are handed."""
    if request.method == "HEAD":
        return HttpResponse(status=status, content_type="application/json")
    return JsonResponse(body, status=status)
