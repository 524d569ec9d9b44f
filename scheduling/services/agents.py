"""Agent writes."""

from datetime import datetime

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils.timezone import now

from brain.db.rows import lock_row
from brain.services import assign

from ..models import AGENT_NAME_TAKEN, AGENT_NAME_TAKEN_CODE, Agent, AgentStatus
from .common import save_or_conflict

AGENT_UPDATABLE = frozenset({"name", "type", "capabilities_json", "status", "last_active_at"})

# The unique index on lower(name).
AGENT_NAME_UNIQUE = "agents_name_lower_unique"


def _full_clean(agent):
    """full_clean(), with a name another agent has (whatever the case) reported on `name`: model
    validation reports a constraint on an expression without a field."""
    try:
        agent.full_clean()
    except ValidationError as error:
        errors = error.error_dict
        general = errors.pop(NON_FIELD_ERRORS, [])
        taken = [item for item in general if item.code == AGENT_NAME_TAKEN_CODE]
        if taken:
            errors.setdefault("name", []).extend(taken)
        if other := [item for item in general if item.code != AGENT_NAME_TAKEN_CODE]:
            errors[NON_FIELD_ERRORS] = other
        raise ValidationError(errors) from None


@transaction.atomic
def agent_create(
    *,
    name: str,
    type: str,
    capabilities_json: list | None = None,
    status: str = AgentStatus.IDLE,
    last_active_at: datetime | None = None,
) -> Agent:
    """Creates an agent; its name is unique whatever the case and its type one of the
    registry's."""
    agent = Agent(
        name=name,
        type=type,
        capabilities_json=[] if capabilities_json is None else capabilities_json,
        status=status,
        last_active_at=last_active_at,
    )
    _full_clean(agent)
    save_or_conflict(
        agent,
        constraint=AGENT_NAME_UNIQUE,
        conflict_field="name",
        conflict_message=AGENT_NAME_TAKEN,
    )
    return agent


@transaction.atomic
def agent_update(*, agent: Agent, data: dict) -> Agent:
    """Updates an agent, with the same rules as agent_create. Only the changed fields are
    written, so a heartbeat recorded meanwhile (last_active_at, status) is never reverted by a
    stale copy. The row is locked and read again first (raising Agent.DoesNotExist when it was
    deleted meanwhile)."""
    lock_row(agent, no_key=True)
    assign(agent, data, updatable=AGENT_UPDATABLE)
    _full_clean(agent)
    save_or_conflict(
        agent,
        constraint=AGENT_NAME_UNIQUE,
        conflict_field="name",
        conflict_message=AGENT_NAME_TAKEN,
        update_fields=sorted(data),
    )
    return agent


@transaction.atomic
def agent_delete(*, agent: Agent) -> None:
    """Deletes an agent, locked and read again first so its audit record holds the values it had
    (raising Agent.DoesNotExist when it was deleted meanwhile)."""
    lock_row(agent)
    agent.delete()


@transaction.atomic
def agent_heartbeat(*, agent: Agent, status: str | None = None) -> Agent:
    """An agent's heartbeat: last_active_at becomes now, and the status changes if given. The
    row is locked first (raising Agent.DoesNotExist when it was deleted meanwhile)."""
    lock_row(agent, no_key=True)
    agent.last_active_at = now()
    if status is not None:
        agent.status = status
    agent.full_clean()
    agent.save(update_fields=["last_active_at", "status"])
    return agent
