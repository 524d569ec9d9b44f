"""Brain on Redis Sentinel (a master, its replica, three Sentinels) through a failover that
Sentinel runs: the API answers throughout, nothing a write invalidated is served once the
failover is over, and the live stream's subscribers keep receiving. And Brain on a master that
answers reads but refuses writes, as a replaced master does until Sentinel reconfigures it."""

import asyncio
import json
import subprocess

import pytest
import redis
import websockets
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from brain.tokens import token_create
from tests.support import free_port

from .sentinel import SERVICE, SentinelGroup, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 15  # seconds a stream message may take: a bound for a stuck test, never a measure
EVENT = {"event_type": "deploy", "severity": "info", "message": "before"}


@pytest.fixture
def sentinels(tmp_path):
    directory = tmp_path / "redis"
    directory.mkdir()
    group = SentinelGroup(directory)
    try:
        yield group.start()
    finally:
        group.stop()


def test_a_failover_keeps_the_api_answering_and_serves_nothing_stale(
    sentinels, serve, user, staff_user
):
    token = {"Authorization": f"Token {token_create(user=user)}"}
    staff = {"Authorization": f"Token {token_create(user=staff_user)}"}
    server = serve(redis=f"redis://{SERVICE}/0", REDIS_SENTINELS=sentinels.sentinels)

    def request(*args, **kwargs):
        return asyncio.to_thread(server.request, *args, **kwargs)

    async def scenario():
        url = f"ws://127.0.0.1:{server.port}/ws/events"
        async with websockets.connect(url, additional_headers=token, open_timeout=WAIT) as socket:
            start = json.loads(await asyncio.wait_for(socket.recv(), WAIT))["position"]
            created = await request("POST", "/api/events", EVENT, token)
            path = f"/api/events/{created.json()['id']}"
            cached = [await request("GET", path, headers=token) for _ in range(2)]
            stats = await request("GET", "/api/events/stats", headers=token)

            old, new = sentinels.fail_over()
            during = await request("PATCH", path, {"message": "during"}, staff)
            answers = []
            while not sentinels.failed_over(old, new):
                answers.append(await request("GET", path, headers=token))
            after = await request("PATCH", path, {"severity": "critical"}, staff)
            read = await request("GET", path, headers=token)
            stats_after = await request("GET", "/api/events/stats", headers=token)
            later = await request("POST", "/api/events", {**EVENT, "message": "later"}, token)

            messages = [json.loads(await asyncio.wait_for(socket.recv(), WAIT)) for _ in range(4)]
            return (
                start,
                created,
                cached,
                stats,
                during,
                answers,
                after,
                read,
                stats_after,
                (
                    later,
                    messages,
                ),
            )

    start, created, cached, stats, during, answers, after, read, stats_after, stream = asyncio.run(
        scenario()
    )

    assert created.status == 201
    assert {(reply.status, reply.body) for reply in cached} == {(200, created.body)}
    assert stats.json()["by_severity"].get("critical", 0) == 0
    assert during.status == 200
    assert answers
    assert {reply.status for reply in answers} == {200}
    assert after.status == 200
    assert (read.status, read.body) == (200, after.body)
    assert (read.json()["message"], read.json()["severity"]) == ("during", "critical")
    assert stats_after.json()["by_severity"]["critical"] == 1
    # The stream told its subscriber of every change, across the failover, in order.
    later, messages = stream
    assert [(m["op"], m["position"], m["event"]["id"]) for m in messages] == [
        ("create", start + 1, created.json()["id"]),
        ("update", start + 2, created.json()["id"]),
        ("update", start + 3, created.json()["id"]),
        ("create", start + 4, later.json()["id"]),
    ]
    # Sentinel promoted the replica. Which keys it holds depends on timing: it refuses writes
    # until the old master rejoins as its replica, and an invalidation no replica acknowledged in
    # time is kept in PostgreSQL and applied from there. The reads above show nothing was lost.
    promoted = redis.Redis(port=sentinels.master())
    assert promoted.info("replication")["role"] == "master"


@pytest.fixture
def refusing_writes(tmp_path):
    """A Redis with no replica that requires one in step to write: reads answer, writes are
    refused (NOREPLICAS). Its URL."""
    port = free_port()
    command = ["/usr/bin/redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--min-replicas-to-write", "1"]
    with (tmp_path / "redis.log").open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        wait_for(lambda: redis.Redis(port=port).ping(), "redis-server to answer")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait()


def test_a_master_refusing_writes_leaves_the_api_answering_and_logins_limited_open(
    refusing_writes, user, staff_user
):
    token = token_create(user=user)
    event = APIClient().post(
        "/api/events", EVENT, format="json", HTTP_AUTHORIZATION=f"Token {token}"
    )
    cache = {"default": {**settings.CACHES["default"], "LOCATION": refusing_writes}}

    with override_settings(CACHES=cache):
        client = APIClient(HTTP_AUTHORIZATION=f"Token {token}")
        reads = [client.get(f"/api/events/{event.json()['id']}") for _ in range(3)]
        written = client.patch(
            f"/api/events/{event.json()['id']}",
            {"message": "after"},
            format="json",
            HTTP_AUTHORIZATION=f"Token {token_create(user=staff_user)}",
        )
        read = client.get(f"/api/events/{event.json()['id']}")
        refused = APIClient().post(
            "/api/auth/token", {"username": "alice", "password": "wrong"}, format="json"
        )

    assert [(reply.status_code, reply.json()) for reply in reads] == [(200, event.json())] * 3
    assert (written.status_code, read.status_code) == (200, 200)
    assert read.json()["message"] == "after"
    assert refused.status_code == 400
    assert redis.Redis.from_url(refusing_writes).dbsize() == 0
