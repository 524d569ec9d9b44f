"""Agent writes."""

from datetime import datetime

from django.db import transaction
from django.utils.timezone import now

from ..models import Agent, AgentStatus
from .common import assign, save_or_conflict

AGENT_UPDATABLE = frozenset({"name", "type", "capabilities_json", "status", "last_active_at"})

AGENT_NAME_TAKEN = Agent._meta.get_field("name").error_messages["unique"]
# PostgreSQL's name for the inline UNIQUE of agents.name (migration 0001).
AGENT_NAME_UNIQUE = "agents_name_key"


@transaction.atomic
def agent_create(
    *,
    name: str,
    type: str,
    capabilities_json: list | None = None,
    status: str = AgentStatus.IDLE,
    last_active_at: datetime | None = None,
) -> Agent:
    """Creates an agent; its name is unique and its type one of the registry's."""
    agent = Agent(
        name=name,
        type=type,
        capabilities_json=[] if capabilities_json is None else capabilities_json,
        status=status,
        last_active_at=last_active_at,
    )
    agent.full_clean()
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
    stale copy."""
    assign(agent, data, AGENT_UPDATABLE)
    agent.full_clean()
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
    """Deletes an agent."""
    agent.delete()


@transaction.atomic
def agent_heartbeat(*, agent: Agent, status: str | None = None) -> Agent:
    """An agent's heartbeat: last_active_at becomes now, and the status changes if given."""
    agent.last_active_at = now()
    if status is not None:
        agent.status = status
    agent.full_clean()
    agent.save(update_fields=["last_active_at", "status"])
    return agent
