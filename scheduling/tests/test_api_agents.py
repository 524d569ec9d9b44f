import json

import pytest
from django.utils.timezone import now

from audit.models import AuditLog
from scheduling.agent_types import BUILTIN_AGENT_TYPES
from scheduling.models import Agent

from .factories import AgentFactory

pytestmark = pytest.mark.django_db


def body(agent):
    agent.refresh_from_db()
    return {
        "id": agent.pk,
        "name": agent.name,
        "type": agent.type,
        "capabilities_json": agent.capabilities_json,
        "status": agent.status,
        "last_active_at": (
            agent.last_active_at.isoformat().replace("+00:00", "Z")
            if agent.last_active_at
            else None
        ),
    }


def test_staff_create_an_agent(staff_client):
    response = staff_client.post(
        "/api/agents",
        {"name": "rex", "type": "reviewer", "capabilities_json": ["diff", "lint"]},
    )

    assert response.status_code == 201
    assert response.json() == body(Agent.objects.get())


def test_users_may_not_create_change_or_delete_agents(api_client):
    agent = AgentFactory(name="rex")

    statuses = [
        api_client.post("/api/agents", {"name": "new", "type": "coder"}).status_code,
        api_client.patch(f"/api/agents/{agent.pk}", {"status": "error"}).status_code,
        api_client.delete(f"/api/agents/{agent.pk}").status_code,
    ]

    assert statuses == [403, 403, 403]
    assert list(Agent.objects.values_list("name", "status")) == [("rex", "idle")]


def test_every_user_reads_agents_and_finds_one_by_name(api_client):
    AgentFactory(name="alpha")
    wanted = AgentFactory(name="beta", type="tester")

    everything = api_client.get("/api/agents").json()
    by_name = api_client.get("/api/agents", {"name": "beta"}).json()

    assert everything["count"] == 2
    assert by_name == {"count": 1, "next": None, "previous": None, "results": [body(wanted)]}


def test_list_filters_by_type_and_status(api_client):
    wanted = AgentFactory(type="planner", status="busy")
    AgentFactory(type="planner", status="idle")
    AgentFactory(type="coder", status="busy")

    response = api_client.get("/api/agents", {"type": "planner", "status": "busy"})

    assert [row["id"] for row in response.json()["results"]] == [wanted.pk]


def test_list_costs_a_constant_number_of_queries(api_client, django_assert_num_queries):
    AgentFactory.create_batch(5)
    api_client.get("/api/agents")

    with django_assert_num_queries(3):  # the read's statement timeout, the count, the page
        api_client.get("/api/agents")


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        (
            {"type": "wizard"},
            {
                "type": [
                    f"Unknown agent type 'wizard': use one of {', '.join(BUILTIN_AGENT_TYPES)}."
                ]
            },
        ),
        ({"status": "asleep"}, {"status": ['"asleep" is not a valid choice.']}),
        ({"capabilities_json": {"a": 1}}, {"capabilities_json": ["Must be a JSON array."]}),
        ({"capabilities_json": "python"}, {"capabilities_json": ["Must be a JSON array."]}),
        (
            {"capabilities_json": ["\x00"]},
            {"capabilities_json": ["Null characters are not allowed."]},
        ),
        (
            {"capabilities_json": ["\ud800"]},
            {"capabilities_json": ["Surrogate characters are not allowed: U+D800."]},
        ),
        ({"name": "taken"}, {"name": ["An agent with this name already exists."]}),
        ({"name": "n\x00"}, {"name": ["Null characters are not allowed."]}),
    ],
)
def test_create_refuses_invalid_input(staff_client, payload, errors):
    AgentFactory(name="taken")

    # Sent as ASCII JSON, so a lone surrogate travels as an escape, as a real client sends it.
    response = staff_client.post(
        "/api/agents",
        json.dumps({"name": "new", "type": "coder", **payload}),
        content_type="application/json",
    )

    assert (response.status_code, response.json()) == (400, errors)
    assert list(Agent.objects.values_list("name", flat=True)) == ["taken"]


def test_agent_types_come_from_the_registry_and_settings(staff_client, settings):
    settings.BRAIN_AGENT_TYPES = ["translator"]

    types = staff_client.get("/api/agents/types")
    created = staff_client.post("/api/agents", {"name": "babel", "type": "translator"})

    assert types.json() == {"types": [*BUILTIN_AGENT_TYPES, "translator"]}
    assert created.status_code == 201


def test_rename_to_a_taken_name_is_refused(staff_client):
    AgentFactory(name="taken")
    agent = AgentFactory(name="free")

    response = staff_client.patch(f"/api/agents/{agent.pk}", {"name": "taken"})

    assert (response.status_code, response.json()) == (
        400,
        {"name": ["An agent with this name already exists."]},
    )


def test_staff_update_and_delete(staff_client):
    agent = AgentFactory()

    updated = staff_client.patch(f"/api/agents/{agent.pk}", {"status": "offline"})
    deleted = staff_client.delete(f"/api/agents/{agent.pk}")

    assert (updated.status_code, updated.json()["status"]) == (200, "offline")
    assert deleted.status_code == 204
    assert not Agent.objects.exists()


def test_any_user_sends_a_heartbeat(api_client):
    agent = AgentFactory(status="idle")
    before = now()

    response = api_client.post(f"/api/agents/{agent.pk}/heartbeat", {"status": "busy"})

    assert response.status_code == 200
    assert response.json() == body(agent)
    assert (agent.status, agent.last_active_at >= before) == ("busy", True)


def test_heartbeat_without_a_body_keeps_the_status(api_client):
    agent = AgentFactory(status="active")

    response = api_client.post(f"/api/agents/{agent.pk}/heartbeat")

    assert response.status_code == 200
    agent.refresh_from_db()
    assert (agent.status, agent.last_active_at is not None) == ("active", True)


def test_heartbeat_refuses_an_unknown_status(api_client):
    agent = AgentFactory(status="idle")

    response = api_client.post(f"/api/agents/{agent.pk}/heartbeat", {"status": "asleep"})

    assert (response.status_code, response.json()) == (
        400,
        {"status": ['"asleep" is not a valid choice.']},
    )
    agent.refresh_from_db()
    assert (agent.status, agent.last_active_at) == ("idle", None)


def test_heartbeat_of_an_unknown_agent_is_404(api_client):
    assert api_client.post("/api/agents/999999/heartbeat").status_code == 404


def test_last_active_at_is_read_only(staff_client):
    response = staff_client.post(
        "/api/agents", {"name": "a", "type": "coder", "last_active_at": "2020-01-01T00:00:00Z"}
    )

    assert (response.status_code, response.json()) == (
        400,
        {"last_active_at": ["Read-only field: it cannot be set."]},
    )
    assert not Agent.objects.exists()


def test_time_filters_accept_any_iso_offset(api_client):
    # PostgreSQL refuses offsets beyond +-15:59; the filter converts to UTC first.
    agent = AgentFactory()
    api_client.post(f"/api/agents/{agent.pk}/heartbeat")

    response = api_client.get("/api/agents", {"active_after": "2000-01-01T00:00:00-19:48"})

    assert [row["id"] for row in response.json()["results"]] == [agent.pk]


def test_the_type_filter_refuses_a_type_that_does_not_exist(api_client, settings):
    settings.BRAIN_AGENT_TYPES = ["translator"]
    AgentFactory(type="translator")

    refused = api_client.get("/api/agents", {"type": "bogus"})
    found = api_client.get("/api/agents", {"type": "translator"})

    assert (refused.status_code, refused.json()) == (
        400,
        {"type": ['"bogus" is not a valid choice.']},
    )
    assert found.json()["count"] == 1


def test_time_filters_refuse_a_time_out_of_range(api_client):
    response = api_client.get("/api/agents", {"active_before": "0001-01-01T00:00:00+05:00"})

    assert (response.status_code, response.json()) == (
        400,
        {"active_before": ["Enter a valid date/time."]},
    )


@pytest.mark.parametrize("name", ["builder", "BUILDER", "Builder"])
def test_agent_names_are_unique_whatever_the_case(staff_client, name):
    builder = AgentFactory(name="Builder")
    other = AgentFactory(name="other")
    audit_rows = AuditLog.objects.count()

    created = staff_client.post("/api/agents", {"name": name, "type": "coder"})
    renamed = staff_client.patch(f"/api/agents/{other.pk}", {"name": name})

    taken = {"name": ["An agent with this name already exists."]}
    assert (created.status_code, created.json()) == (400, taken)
    assert (renamed.status_code, renamed.json()) == (400, taken)
    assert sorted(Agent.objects.values_list("pk", "name")) == [
        (builder.pk, "Builder"),
        (other.pk, "other"),
    ]
    assert AuditLog.objects.count() == audit_rows


@pytest.mark.parametrize("query", ["Builder", "builder", "BUILDER"])
def test_name_filter_finds_an_agent_whatever_the_case(api_client, query):
    builder = AgentFactory(name="Builder")
    AgentFactory(name="Builder-2")

    response = api_client.get("/api/agents", {"name": query})

    assert [row["id"] for row in response.json()["results"]] == [builder.pk]
