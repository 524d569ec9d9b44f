"""Lifecycle and health events: server start and stop, database connection loss and
recovery, health state changes. Transitions only: a probe that finds the state unchanged writes
nothing and runs no extra query."""

import logging
import os
import threading

from django.db import connection, transaction
from django.utils import timezone

from brain.context import audit_actor
from brain.db.replicas import primary_reads

from .models import Severity, SystemEvent
from .services import event_create

logger = logging.getLogger(__name__)

SOURCE = "brain"
# Who the audit records name: the server process, and the health monitor (not the anonymous
# probe that happened to observe a change).
SERVER_ACTOR = "system:gunicorn"
HEALTH_ACTOR = "system:health"
SERVER_START = "server_start"
SERVER_STOP = "server_stop"
HEALTH_STATE_CHANGED = "health_state_changed"
DATABASE_CONNECTION_LOST = "database_connection_lost"
DATABASE_CONNECTION_RESTORED = "database_connection_restored"

OK, DEGRADED, UNAVAILABLE = "ok", "degraded", "unavailable"
STATE_SEVERITY = {OK: Severity.INFO, DEGRADED: Severity.WARNING, UNAVAILABLE: Severity.ERROR}
# Serializes the recording of a transition across every worker process (pg_advisory_xact_lock).
HEALTH_LOCK_ID = 0x6272_6169  # "brai"


def record_server_start(*, bind, workers):
    """Records that the server started (called once per start, from gunicorn's master)."""
    with audit_actor(SERVER_ACTOR):
        return event_create(
            event_type=SERVER_START,
            severity=Severity.INFO,
            message=f"Server started on {bind} with {workers} workers",
            details={"bind": bind, "workers": workers, "pid": os.getpid()},
            source=SOURCE,
        )


def record_server_stop(*, bind):
    """Records that the server stopped (called once per stop, from gunicorn's master)."""
    with audit_actor(SERVER_ACTOR):
        return event_create(
            event_type=SERVER_STOP,
            severity=Severity.INFO,
            message=f"Server on {bind} stopped",
            details={"bind": bind, "pid": os.getpid()},
            source=SOURCE,
        )


def health_state(*, database_ok, cache_ok):
    if not database_ok:
        return UNAVAILABLE
    return OK if cache_ok else DEGRADED


class HealthRecorder:
    """Turns readiness probes into events, transitions only.

    Each process remembers the last state it saw, so an unchanged probe costs nothing. On a change
    it takes a PostgreSQL advisory lock and compares with the last recorded state, so several
    workers seeing the same change record it once. While the database is down nothing can be
    written: the time of the first failed probe is kept and, on recovery, recorded as
    `database_connection_lost` (and the change to `unavailable`) with that timestamp, followed by
    `database_connection_restored` and the change back.
    """

    def __init__(self):
        self.state = None
        self.database_down_since = None
        self._lock = threading.Lock()

    def observe(self, *, database_ok, cache_ok):
        state = health_state(database_ok=database_ok, cache_ok=cache_ok)
        with self._lock:
            if not database_ok:
                if self.database_down_since is None:
                    self.database_down_since = timezone.now()
                self.state = state
                return
            if state == self.state and self.database_down_since is None:
                return
            self._record(state)
            self.state, self.database_down_since = state, None

    def _record(self, state):
        # The last recorded state is compared under the lock: read from the primary, never from
        # a replica that may not have replayed another worker's record (brain.db.replicas).
        with primary_reads(), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [HEALTH_LOCK_ID])
            last = SystemEvent.objects.filter(event_type=HEALTH_STATE_CHANGED).first()
            last_state = (last.details or {}).get("to") if last else None
            down_since = self.database_down_since
            if (
                down_since is not None
                and not SystemEvent.objects.filter(
                    event_type=DATABASE_CONNECTION_RESTORED, timestamp__gte=down_since
                ).exists()
            ):
                self._record_outage(down_since, last_state)
                last_state = UNAVAILABLE
            if last_state != state:
                _record_change(last_state, state, timezone.now())

    @staticmethod
    def _record_outage(down_since, previous_state):
        now = timezone.now()
        downtime = round((now - down_since).total_seconds(), 3)
        _record_change(previous_state, UNAVAILABLE, down_since)
        event_create(
            event_type=DATABASE_CONNECTION_LOST,
            severity=Severity.ERROR,
            message="Database connection lost",
            source=SOURCE,
            timestamp=down_since,
        )
        event_create(
            event_type=DATABASE_CONNECTION_RESTORED,
            severity=Severity.INFO,
            message="Database connection restored",
            details={"down_since": down_since.isoformat(), "downtime_seconds": downtime},
            source=SOURCE,
            timestamp=now,
        )


def _record_change(previous, state, timestamp):
    event_create(
        event_type=HEALTH_STATE_CHANGED,
        severity=STATE_SEVERITY[state],
        message=f"Health changed from {previous or 'unknown'} to {state}",
        details={"from": previous, "to": state},
        source=SOURCE,
        timestamp=timestamp,
    )


health_recorder = HealthRecorder()


def record_health(*, database_ok, cache_ok):
    """Records a readiness probe's result if it changes the health state. Never raises: a failure
    to record is logged and the probe still answers."""
    try:
        with audit_actor(HEALTH_ACTOR):
            health_recorder.observe(database_ok=database_ok, cache_ok=cache_ok)
    except Exception:
        logger.warning("health: could not record the health state", exc_info=True)
