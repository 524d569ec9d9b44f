"""Brain on Redis Sentinel (a master, its replica, three Sentinels) through a failover that
Sentinel runs: the API answers throughout, nothing a write invalidated is served once the
failover is over, and the live stream's subscribers keep receiving."""

import asyncio
import json

import pytest
import redis
import websockets
from rest_framework.authtoken.models import Token

from .sentinel import SERVICE, SentinelGroup

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
    token = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    staff = {"Authorization": f"Token {Token.objects.create(user=staff_user).key}"}
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
    # The promoted replica holds the cache now, and the writes' invalidations with it.
    promoted = redis.Redis(port=sentinels.master())
    assert promoted.info("replication")["role"] == "master"
    assert int(promoted.get("brain:events:stats:gen")) >= 3
    assert promoted.exists(f"brain:events:id:{created.json()['id']}")
