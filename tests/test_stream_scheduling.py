"""Executions and tasks on the live stream (`/ws/events?subscribe=executions`): each change as
the API renders it, from every write path (the scheduler's runs, the API, the admin, ORM code,
plain SQL), only to the users the API shows the row to, resumable with ?after= in the events'
positions, and never to a socket that did not subscribe."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from brain.tokens import token_create
from events.tests.factories import SystemEventFactory
from events.tests.stream_support import StreamClient, in_thread, run
from scheduling.models import ExecutionResult, ScheduledTask
from scheduling.scheduler import Scheduler
from scheduling.services import task_create

pytestmark = pytest.mark.django_db(transaction=True)  # the stream reads committed changes only


def token_of(user):
    return token_create(user=user)


def api(user, method, path, body=None, status=200):
    """The body of the API's answer to `user`, which must have `status`."""
    client = Client(HTTP_AUTHORIZATION=f"Token {token_of(user)}")
    response = getattr(client, method)(path, body, content_type="application/json")
    assert response.status_code == status, response.content
    return response.json() if response.content else None


def new_task(user, **fields):
    return task_create(
        user=user, skill_name="demo.echo", schedule_cron="0 0 1 1 *", params_json={}, **fields
    )


def run_scheduler():
    Scheduler(worker_id="stream-worker", poll_interval=0.05).run(once=True)


async def connect(user, query="subscribe=executions"):
    client = StreamClient(query, token=await in_thread(token_of, user))
    assert (await client.connect())[0]
    subscribed = await client.receive()
    assert subscribed["type"] == "subscribed", subscribed
    return client, subscribed


async def receive(client, count):
    """The next `count` messages, each a change (not a protocol message)."""
    received = [await client.receive() for _ in range(count)]
    assert all(m.get("type") in {"event", "execution", "task"} for m in received), received
    return received


def test_the_owner_receives_the_schedulers_run_as_the_api_shows_it(user):
    task = new_task(user, next_run_at=timezone.now() - timedelta(minutes=1))

    async def scenario():
        client, subscribed = await connect(user, "subscribe=executions&subscribe=tasks")
        assert subscribed["subscribe"] == ["executions", "tasks"]
        assert subscribed["filters"] == {}
        await in_thread(run_scheduler)
        marker = await in_thread(new_task, user)  # a change after the run's last one
        received = []
        while not received or received[-1].get("task", {}).get("id") != marker.id:
            received += await receive(client, 1)
        await client.close()
        return received[:-1]

    received = run(scenario)
    execution = ExecutionResult.objects.get(task=task)
    executions = [m for m in received if m["type"] == "execution"]
    assert [(m["op"], m["execution"]["status"]) for m in executions] == [
        ("create", "running"),
        ("update", "success"),
    ]
    assert executions[0]["execution"]["id"] == execution.id
    assert executions[-1]["execution"] == api(user, "get", f"/api/executions/{execution.id}")
    tasks = [m for m in received if m["type"] == "task"]
    assert tasks[0]["task"]["status"] == "running"
    assert all(m["op"] == "update" and m["task"]["id"] == task.id for m in tasks)
    positions = [m["position"] for m in received]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)


def test_a_completion_through_the_api_reaches_the_owner_and_staff_never_another_user(
    user, other_user, staff_user
):
    task = new_task(user)
    others = new_task(other_user)

    async def scenario():
        owner, _ = await connect(user)
        other, _ = await connect(other_user)
        staff, _ = await connect(staff_user)
        created = await in_thread(
            api, user, "post", "/api/executions", {"task_id": task.id}, status=201
        )
        completed = await in_thread(
            api,
            user,
            "post",
            f"/api/executions/{created['id']}/complete",
            {"status": "failed", "error_text": "disk full"},
        )
        marker = await in_thread(
            api, other_user, "post", "/api/executions", {"task_id": others.id}, status=201
        )
        for client in (owner, staff):
            create, update = await receive(client, 2)
            assert create == {
                "type": "execution",
                "op": "create",
                "position": create["position"],
                "execution": created,
            }
            assert (update["op"], update["execution"]) == ("update", completed)
            assert update["position"] > create["position"]
        # The other user's first message is their own execution: none of the owner's came before.
        [first] = await receive(other, 1)
        assert (first["op"], first["execution"]) == ("create", marker)
        [seen] = await receive(staff, 1)
        assert seen["execution"] == marker
        for client in (owner, other, staff):
            await client.close()

    run(scenario)


def test_a_socket_that_did_not_subscribe_gets_no_execution_or_task(user):
    task = new_task(user)

    async def scenario():
        events_only, subscribed = await connect(user, "")
        assert subscribed["subscribe"] == ["events"]
        created = await in_thread(
            api, user, "post", "/api/executions", {"task_id": task.id}, status=201
        )
        await in_thread(
            api, user, "post", f"/api/executions/{created['id']}/complete", {"status": "success"}
        )
        await in_thread(api, user, "post", f"/api/tasks/{task.id}/disable", {})
        marker = await in_thread(SystemEventFactory, event_type="marker")
        [message] = await receive(events_only, 1)
        assert (message["type"], message["event"]["id"]) == ("event", marker.id)
        await events_only.close()

    run(scenario)


def test_a_resume_after_a_position_returns_the_execution_changes_missed(user, other_user):
    task = new_task(user)
    others = new_task(other_user)

    async def scenario():
        client, subscribed = await connect(user)
        await client.close()
        created = await in_thread(
            api, user, "post", "/api/executions", {"task_id": task.id}, status=201
        )
        await in_thread(
            api, other_user, "post", "/api/executions", {"task_id": others.id}, status=201
        )
        await in_thread(SystemEventFactory)
        completed = await in_thread(
            api, user, "post", f"/api/executions/{created['id']}/complete", {"status": "success"}
        )
        resumed, again = await connect(user, f"subscribe=executions&after={subscribed['position']}")
        assert again["position"] == subscribed["position"]
        create, update = await receive(resumed, 2)
        assert [(create["op"], create["execution"]), (update["op"], update["execution"])] == [
            ("create", created),
            ("update", completed),
        ]
        assert subscribed["position"] < create["position"] < update["position"]
        # Live after the catch-up: the next one is the owner's next change, once.
        await in_thread(api, user, "delete", f"/api/executions/{created['id']}", status=204)
        [delete] = await receive(resumed, 1)
        assert (delete["op"], delete["execution"]["id"]) == ("delete", created["id"])
        await resumed.close()

    run(scenario)


def test_streams_are_named_on_the_handshake_or_changed_by_a_message(user):
    task = new_task(user)

    async def scenario():
        refused = StreamClient("subscribe=runs", token=await in_thread(token_of, user))
        assert (await refused.connect())[0]
        assert await refused.receive() == {
            "type": "error",
            "errors": {
                "subscribe": ['"runs" is not a stream. Streams: events, executions, tasks.']
            },
        }
        assert await refused.receive() == {"close": 4400}

        client, _ = await connect(user, "severity=error")
        await client.send({"subscribe": "tasks", "filters": {"severity": "critical"}})
        changed = await client.receive()
        assert (changed["type"], changed["subscribe"], changed["filters"]) == (
            "subscribed",
            ["tasks"],
            {"severity": ["critical"]},
        )
        await client.send({"subscribe": []})
        assert await client.receive() == {
            "type": "error",
            "errors": {"subscribe": ["Name at least one stream: events, executions, tasks."]},
        }
        await client.send({"subscribe": ["events", 5]})
        assert await client.receive() == {
            "type": "error",
            "errors": {"subscribe": ["Expected strings."]},
        }
        await in_thread(SystemEventFactory, severity="critical")
        disabled = await in_thread(api, user, "post", f"/api/tasks/{task.id}/disable", {})
        [message] = await receive(client, 1)  # tasks only: the event is not sent
        assert (message["type"], message["op"], message["task"]["status"]) == (
            "task",
            "update",
            disabled["status"],
        )
        assert message["task"] == await in_thread(api, user, "get", f"/api/tasks/{task.id}")
        await client.close()

    run(scenario)


def admin_change(user, execution):
    client = Client()
    client.force_login(user)
    response = client.post(
        f"/admin/scheduling/executionresult/{execution.id}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302, response.content


def orm_bulk(user, execution):
    ExecutionResult.objects.filter(pk=execution.pk).update(output_text="bulk")
    ExecutionResult.objects.bulk_create([ExecutionResult(task=execution.task)])


def task_delete(user, execution):
    ScheduledTask.objects.get(pk=execution.task_id).delete()


def plain_sql(user, execution):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE execution_results SET output_text = 'sql' WHERE id = %s", [execution.id]
        )


@pytest.mark.parametrize(
    ("write", "changes"),
    [
        (admin_change, [("execution", "delete")]),
        (orm_bulk, [("execution", "update"), ("execution", "create")]),
        (task_delete, [("execution", "delete"), ("task", "delete")]),
        (plain_sql, [("execution", "update")]),
    ],
)
def test_each_write_path_reaches_the_owner_once(write, changes, superuser, user):
    task = new_task(user)
    execution = ExecutionResult.objects.create(task=task)

    async def scenario():
        client, start = await connect(user, "subscribe=executions&subscribe=tasks")
        await in_thread(write, superuser, execution)
        await in_thread(SystemEventFactory)  # not on these streams
        later = await in_thread(new_task, user)
        received = await receive(client, len(changes) + 1)
        await client.close()
        return start, later, received

    start, later, received = run(scenario)
    *messages, last = received
    assert [(m["type"], m["op"]) for m in messages] == changes
    assert (last["type"], last["op"], last["task"]["id"]) == ("task", "create", later.id)
    # One position each, the event's between them: the positions are the events' own.
    assert [m["position"] for m in received] == [
        *range(start["position"] + 1, start["position"] + len(changes) + 1),
        start["position"] + len(changes) + 2,
    ]
