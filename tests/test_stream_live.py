"""The live events stream over a real socket: Brain under gunicorn as it ships
(brain/gunicorn.conf.py), HTTP and /ws/events on one port, on the test database."""

import asyncio
import json
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests
import websockets
from django.conf import settings
from django.db import connection

from brain.tokens import token_create
from events.models import SystemEvent
from tests.support import free_port, server_environment

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 15  # seconds any one message may take: a bound for a stuck test, never a measure
EVENT = {"event_type": "live", "severity": "info", "message": "m"}


@pytest.fixture
def server(tmp_path):
    """Brain under gunicorn with its own configuration (2 workers) on a free port: its base URL."""
    port = free_port()
    log_path = tmp_path / "gunicorn.log"
    environment = server_environment(
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY="2",
        EVENT_STREAM_BUFFER="1000",
        THROTTLE_RATE_USER="1000000/min",
    )
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "brain/gunicorn.conf.py"],
            cwd=settings.BASE_DIR,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                if requests.get(f"{base}/health/live", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"gunicorn did not start:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield base
    finally:
        stop(process)


def stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=35)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def token(user):
    return token_create(user=user)


def post(base, token, path, body):
    response = requests.post(
        f"{base}{path}", json=body, headers={"Authorization": f"Token {token}"}, timeout=WAIT
    )
    assert response.status_code == 201, response.text
    return response.json()


def connect(base, token=None, query="", *, max_queue=16):
    """A client of /ws/events; it stops reading the socket while `max_queue` messages wait."""
    headers = {"Authorization": f"Token {token}"} if token else {}
    url = base.replace("http", "ws", 1) + "/ws/events" + (f"?{query}" if query else "")
    return websockets.connect(
        url, additional_headers=headers, open_timeout=WAIT, max_queue=max_queue
    )


async def receive(socket):
    return json.loads(await asyncio.wait_for(socket.recv(), WAIT))


def test_the_handshake_is_refused_without_valid_credentials(server):
    async def scenario():
        for token in (None, "not-a-token"):
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with connect(server, token):
                    pass
            assert refused.value.response.status_code == 403

    asyncio.run(scenario())


def test_events_posted_over_http_arrive_on_the_socket_of_the_same_port(server, token):
    async def scenario():
        async with connect(server, token, "severity=error") as socket:
            start = (await receive(socket))["position"]
            await asyncio.to_thread(post, server, token, "/api/events", EVENT)
            created = await asyncio.to_thread(
                post, server, token, "/api/events", {**EVENT, "severity": "error"}
            )
            message = await receive(socket)
            assert (message["op"], message["event"], message["position"]) == (
                "create",
                created,
                start + 2,
            )

    asyncio.run(scenario())


def test_a_client_that_stops_reading_is_cut_off_while_writes_and_others_go_on(server, token):
    """EVENT_STREAM_BUFFER is 1,000 here: the silent client falls behind (5,000 events of 4 kB,
    more than the socket buffers and its own buffer hold), the POSTs are answered, and the
    reading client gets every event."""
    bulk = [{**EVENT, "message": "x" * 4000} for _ in range(500)]

    async def scenario():
        async with connect(server, token, max_queue=1) as silent, connect(server, token) as reader:
            await receive(silent)
            start = (await receive(reader))["position"]
            received = []
            for request in range(10):
                await asyncio.to_thread(post, server, token, "/api/events/bulk", bulk)
                while len(received) < 500 * (request + 1):
                    received.append(await receive(reader))
            assert [m["position"] for m in received] == list(range(start + 1, start + 5001))
            # The silent client's socket holds the events sent before it was cut off, in order,
            # then the resume message when the socket could still take it, then the close.
            messages = []
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    messages.append(json.loads(await asyncio.wait_for(silent.recv(), WAIT)))
            assert closed.value.rcvd.code == 4408
            events = [m for m in messages if m["type"] == "event"]
            last = start + len(events)
            assert [m["position"] for m in events] == list(range(start + 1, last + 1))
            assert messages[len(events) :] in (
                [],
                [{"type": "resume", "after": last, "reason": "too slow"}],
            )
            assert last < start + 5000
            async with connect(server, token, f"after={last}") as resumed:
                await receive(resumed)
                rest = [await receive(resumed) for _ in range(start + 5000 - last)]
            assert [m["position"] for m in rest] == list(range(last + 1, start + 5001))

    asyncio.run(scenario())
    assert SystemEvent.objects.filter(event_type="live").count() == 5000


def test_a_users_executions_arrive_on_its_socket_and_not_on_another_users(
    server, token, other_user
):
    other_token = token_create(user=other_user)
    task = {"skill_name": "demo.echo", "schedule_cron": "0 0 1 1 *", "params_json": {}}

    async def scenario():
        query = "subscribe=executions"
        async with (
            connect(server, token, query) as owner,
            connect(server, other_token, query) as other,
        ):
            await receive(owner)
            await receive(other)
            task_id = (await asyncio.to_thread(post, server, token, "/api/tasks", task))["id"]
            created = await asyncio.to_thread(
                post, server, token, "/api/executions", {"task_id": task_id}
            )
            response = await asyncio.to_thread(
                requests.post,
                f"{server}/api/executions/{created['id']}/complete",
                json={"status": "success"},
                headers={"Authorization": f"Token {token}"},
                timeout=WAIT,
            )
            assert response.status_code == 200, response.text
            theirs = (await asyncio.to_thread(post, server, other_token, "/api/tasks", task))["id"]
            marker = await asyncio.to_thread(
                post, server, other_token, "/api/executions", {"task_id": theirs}
            )
            create, update = await receive(owner), await receive(owner)
            assert (create["type"], create["op"], create["execution"]) == (
                "execution",
                "create",
                created,
            )
            assert (update["op"], update["execution"]) == ("update", response.json())
            first = await receive(other)  # the other user's own, nothing of the owner's before
            assert (first["op"], first["execution"]) == ("create", marker)

    asyncio.run(scenario())


def test_a_request_waiting_on_the_database_holds_one_thread_not_its_worker(server, admin_user):
    event = SystemEvent.objects.create(event_type="locked", severity="info", message="m")
    headers = {"Authorization": f"Token {token_create(user=admin_user)}"}
    db = connection.settings_dict
    holder = psycopg.connect(dbname=db["NAME"], host=db["HOST"], port=db["PORT"], user=db["USER"])
    try:
        holder.execute("SELECT 1 FROM system_events WHERE id = %s FOR UPDATE", [event.pk])
        with ThreadPoolExecutor(max_workers=1) as pool:
            waiting = pool.submit(
                requests.patch,
                f"{server}/api/events/{event.pk}",
                json={"message": "changed"},
                headers=headers,
                timeout=WAIT,
            )
            # New connections land on either worker, the one whose thread waits included.
            answers = [
                requests.get(f"{server}/api/events/{event.pk}", headers=headers, timeout=WAIT)
                for _ in range(10)
            ]
            assert not waiting.done()
            holder.rollback()
            patched = waiting.result()
    finally:
        holder.close()

    assert [answer.status_code for answer in answers] == [200] * 10
    assert {answer.json()["message"] for answer in answers} == {"m"}
    assert patched.status_code == 200
    assert patched.json()["message"] == "changed"
