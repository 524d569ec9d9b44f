"""The bounds table (docs/bounds.md) states the bounds the code enforces: each row names the
numbers its declaration holds."""

from pathlib import Path

from django.conf import settings

from brain.api.pagination import LimitOffsetPagination
from brain.validators import MAX_JSON_BYTES, MAX_JSON_DEPTH, MAX_JSON_INTEGER
from events.models import SystemEvent
from events.schemas import BULK_MAX_EVENTS
from events.views import NDJSON_MAX_EVENTS
from scheduling.builtin_skills import MAX_AGE_DAYS
from scheduling.models import (
    EXECUTION_TEXT_MAX_LENGTH,
    PROJECT_DESCRIPTION_MAX_LENGTH,
    Agent,
    ExecutionResult,
    Project,
)

BOUNDS = Path(__file__).resolve().parents[2] / "docs" / "bounds.md"


def _length(model, field):
    return f"{model._meta.get_field(field).max_length:,}"


def _rows():
    """{first cell: second cell} of the table's rows."""
    rows = {}
    for line in BOUNDS.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 3:
            rows[cells[0]] = cells[1]
    return rows


def test_the_bounds_table_states_the_enforced_bounds():
    json_bounds = f"nested at most {MAX_JSON_DEPTH} levels, at most {MAX_JSON_BYTES:,} bytes"
    expected = {
        "event `event_type`": f"1 to {_length(SystemEvent, 'event_type')} characters",
        "event `message`": f"1 to {_length(SystemEvent, 'message')} characters",
        "event `source`": f"up to {_length(SystemEvent, 'source')} characters",
        "event `details`": json_bounds,
        "event `timestamp`": (
            f"`EVENT_TIME_MAX_AGE_DAYS` ({settings.EVENT_TIME_MAX_AGE_DAYS}) days before the "
            f"server's clock to `EVENT_TIME_MAX_DRIFT_SECONDS` "
            f"({settings.EVENT_TIME_MAX_DRIFT_SECONDS}) seconds after it"
        ),
        "events in one request": (
            f"1 to {BULK_MAX_EVENTS:,} in a JSON bulk, 1 to {NDJSON_MAX_EVENTS:,} lines"
        ),
        "project `name`": f"1 to {_length(Project, 'name')} characters",
        "project `description`": f"up to {PROJECT_DESCRIPTION_MAX_LENGTH:,} characters",
        "task `params_json`": f"{json_bounds}; only the skill's declared parameters",
        "task `timeout_seconds`": (
            f"1 to `TASK_MAX_TIMEOUT_SECONDS` ({settings.TASK_MAX_TIMEOUT_SECONDS:,};"
        ),
        "tasks of one user": f"`TASKS_MAX_PER_USER` ({settings.TASKS_MAX_PER_USER:,})",
        "agent `name`": f"1 to {_length(Agent, 'name')} characters",
        "agent `capabilities_json`": json_bounds,
        "execution `output_text`, `error_text`": f"up to {EXECUTION_TEXT_MAX_LENGTH:,} characters",
        "execution `worker`": f"up to {_length(ExecutionResult, 'worker')} characters",
        "execution `duration_ms`": f"0 to {MAX_JSON_INTEGER:,} (2^53 - 1)",
        "`limit`, `offset`": f"above {LimitOffsetPagination.max_limit:,} it is",
    }
    rows = _rows()

    assert {name: expected[name] in rows.get(name, "") for name in expected} == dict.fromkeys(
        expected, True
    )
    assert f"`older_than_days` of the purges 1 to {MAX_AGE_DAYS:,}" in rows["task `params_json`"]
