"""What the bound tests share: hypothesis settings, a fingerprint of every stored row, and each
write path of an event (single, JSON bulk, NDJSON bulk, import_events, PATCH) answering alike:
accepted with the row it stored, or refused with the item's field errors."""

import io
import json
import os
import tempfile
from dataclasses import dataclass

from django.core.management import CommandError, call_command
from django.db import connection
from hypothesis import HealthCheck, settings

from audit.models import AuditLog
from events.models import SystemEvent
from scheduling.models import Agent, ExecutionResult, Project, ScheduledTask

# Each example sends a value just inside and one just outside its bound on every path; `make
# test` keeps the run short, BOUNDS_EXAMPLES makes it longer.
SETTINGS = settings(
    max_examples=int(os.environ.get("BOUNDS_EXAMPLES", "8")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

EVENT = {"event_type": "deploy", "severity": "info", "message": "m"}
NDJSON = "application/x-ndjson"
MINIMAL = {"HTTP_PREFER": "return=minimal"}


def fingerprint():
    """Every row of the tables a write could reach, and the audit trail, as one comparable value
    computed by PostgreSQL (count, largest id and a digest of every row, per table)."""
    tables = [
        model._meta.db_table
        for model in (SystemEvent, Project, ScheduledTask, Agent, ExecutionResult, AuditLog)
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            " UNION ALL ".join(
                f"SELECT '{table}', count(*), max(id), md5(string_agg(t::text, ',' ORDER BY id)) "
                f"FROM {table} t"
                for table in tables
            )
        )
        return cursor.fetchall()


@dataclass
class Outcome:
    """How one path answered: `errors` are the item's ({field: [message]}) when refused;
    `stored` the rows it stored when accepted."""

    path: str
    accepted: bool
    errors: dict
    stored: list


def _new_events(before_id):
    return list(SystemEvent.objects.filter(pk__gt=before_id).order_by("pk"))


def _last_event_id():
    return SystemEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def _answer(path, response, created, item_errors):
    if response.status_code == created:
        return True, {}
    assert response.status_code == 400, (path, response.status_code, response.content[:500])
    return False, item_errors(response.json())


def _single(client, item):
    response = client.post("/api/events", item, format="json")
    return _answer("single", response, 201, lambda body: body)


def _bulk(client, item):
    response = client.post("/api/events/bulk", [item], format="json", **MINIMAL)
    return _answer("bulk", response, 201, lambda body: body["0"])


def _ndjson(client, item):
    body = json.dumps(item) + "\n"
    response = client.generic("POST", "/api/events/bulk", body, content_type=NDJSON, **MINIMAL)
    return _answer("ndjson", response, 201, lambda body: body["line 1"])


def _import(client, item):
    with tempfile.NamedTemporaryFile("w", suffix=".ndjson") as file:
        file.write(json.dumps(item) + "\n")
        file.flush()
        stderr = io.StringIO()
        try:
            call_command(
                "import_events", file.name, verbosity=0, stdout=io.StringIO(), stderr=stderr
            )
        except CommandError:
            line, errors = stderr.getvalue().splitlines()[0].split(": ", 1)
            assert line == "line 1"
            return False, json.loads(errors)
    return True, {}


EVENT_CREATE_PATHS = {"single": _single, "bulk": _bulk, "ndjson": _ndjson, "import": _import}


def event_outcomes(client, item):
    """`item` (a new event) sent by every path that creates events, one after the other: each
    one's Outcome. A refused item leaves every row as it was (asserted here)."""
    outcomes = []
    for path, send in EVENT_CREATE_PATHS.items():
        before, last_id = fingerprint(), _last_event_id()
        accepted, errors = send(client, item)
        if not accepted:
            assert fingerprint() == before, path
        outcomes.append(Outcome(path, accepted, errors, _new_events(last_id)))
    return outcomes


def event_change_outcome(client, event, changes):
    """`changes` sent by PATCH /api/events/{id} (`client` is staff's): its Outcome, the event
    read again as `stored` when accepted. A refused change leaves every row as it was."""
    before = fingerprint()
    response = client.patch(f"/api/events/{event.pk}", changes, format="json")
    accepted, errors = _answer("patch", response, 200, lambda body: body)
    if not accepted:
        assert fingerprint() == before
    event.refresh_from_db()
    return Outcome("patch", accepted, errors, [event] if accepted else [])
