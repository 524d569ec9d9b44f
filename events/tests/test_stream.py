"""The live events stream's protocol, on the ASGI application with channels' communicator: the
handshake's credentials, filters, messages, order and resume, over real PostgreSQL and Redis."""

import threading
from contextlib import suppress
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from brain import partitions
from brain.models import APIToken
from brain.tokens import token_create, token_digest
from events.models import EventChange, SystemEvent
from events.partitions import event_partitions_drop, partition_drop
from events.services import event_changes_prune, event_delete, event_update
from events.tests.factories import SystemEventFactory
from events.tests.stream_support import StreamClient, in_thread, run

pytestmark = pytest.mark.django_db(transaction=True)  # the stream reads committed changes only


@pytest.fixture(autouse=True)
def empty_change_log():
    """Each test starts from an empty change log: the flush after a transactional test empties
    the managed tables only, and the log is unmanaged."""
    EventChange.objects.all().delete()


@pytest.fixture
def token(user):
    return token_create(user=user)


def create(**fields):
    return SystemEventFactory(**fields)


def get_body(event_id, token):
    """The event as GET /api/events/{id} answers it."""
    response = Client().get(f"/api/events/{event_id}", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [(b"authorization", b"Token not-a-token")],
        [(b"authorization", b"Bearer x")],
    ],
    ids=["anonymous", "unknown token", "other scheme"],
)
def test_a_handshake_without_valid_credentials_is_refused(headers):
    async def scenario():
        client = StreamClient(headers=headers)
        assert await client.connect() == (False, 403)

    run(scenario)


def test_a_session_counts_only_from_brains_own_origin(client, user):
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    own = [(b"cookie", cookie), (b"host", b"testserver"), (b"origin", b"http://testserver")]
    other = [(b"cookie", cookie), (b"host", b"testserver"), (b"origin", b"http://evil.test")]

    async def scenario():
        assert await StreamClient(headers=own[:2]).connect() == (False, 403)  # no Origin
        assert await StreamClient(headers=other).connect() == (False, 403)
        accepted = StreamClient(headers=own)
        assert (await accepted.connect())[0]
        assert (await accepted.receive())["type"] == "subscribed"
        await accepted.close()

    run(scenario)


def test_each_event_is_sent_as_the_api_shows_it_with_its_operation_and_position(token):
    async def scenario():
        client = StreamClient(token=token)
        assert (await client.connect())[0]
        subscribed = await client.receive()
        assert (subscribed["type"], subscribed["filters"]) == ("subscribed", {})
        event = await in_thread(create, details={"n": 1.5, "text": "é"})
        [message] = await client.events(1)
        assert message == {
            "type": "event",
            "op": "create",
            "position": subscribed["position"] + 1,
            "event": await in_thread(get_body, event.id, token),
        }
        await in_thread(lambda: event_update(event=event, data={"severity": "error"}))
        await in_thread(lambda: event_delete(event=SystemEvent.objects.get(pk=event.id)))
        update, delete = await client.events(2)
        assert (update["op"], update["event"]["severity"]) == ("update", "error")
        assert (delete["op"], delete["event"]["id"], delete["event"]["severity"]) == (
            "delete",
            event.id,
            "error",
        )
        assert [update["position"], delete["position"]] == [
            message["position"] + 1,
            message["position"] + 2,
        ]
        await client.close()

    run(scenario)


def test_filters_as_the_lists_and_changed_on_the_open_socket(token):
    async def scenario():
        client = StreamClient("severity=error&severity=critical&source=db", token=token)
        assert (await client.connect())[0]
        assert (await client.receive())["filters"] == {
            "source": "db",
            "severity": ["critical", "error"],
        }
        await in_thread(create, severity="error", source="web")
        await in_thread(create, severity="info", source="db")
        wanted = await in_thread(create, severity="critical", source="db")
        [message] = await client.events(1)
        assert message["event"]["id"] == wanted.id

        await client.send({"filters": {"event_type": "deploy"}})
        assert (await client.receive())["filters"] == {"event_type": "deploy"}
        await in_thread(create, event_type="backup")
        deploy = await in_thread(create, event_type="deploy", severity="info")
        [message] = await client.events(1)
        assert message["event"]["id"] == deploy.id

        await client.send({"filters": {"severity": ["fatal"], "colour": "red"}})
        assert await client.receive() == {
            "type": "error",
            "errors": {"colour": [UNKNOWN]},
        }
        await client.send({"filters": {"severity": ["fatal"]}})
        assert await client.receive() == {
            "type": "error",
            "errors": {"severity": ['"fatal" is not a valid choice.']},
        }
        await client.send({"filters": {"source": 5}})
        refused = {"type": "error", "errors": {"source": ["Expected a string."]}}
        assert await client.receive() == refused
        # Refused filters leave the socket open with the filters it had.
        later = await in_thread(create, event_type="deploy")
        [message] = await client.events(1)
        assert message["event"]["id"] == later.id
        await client.close()

    run(scenario)


def test_sockets_of_the_same_filters_each_get_their_events_and_one_may_change_its_own(token):
    async def scenario():
        first = StreamClient("event_type=deploy", token=token)
        second = StreamClient("event_type=deploy", token=token)
        for client in (first, second):
            assert (await client.connect())[0]
            await client.receive()
        deploy = await in_thread(create, event_type="deploy")
        for client in (first, second):
            [message] = await client.events(1)
            assert message["event"]["id"] == deploy.id

        await second.send({"filters": {"event_type": "backup"}})
        assert (await second.receive())["filters"] == {"event_type": "backup"}
        deploy = await in_thread(create, event_type="deploy")
        backup = await in_thread(create, event_type="backup")
        assert [m["event"]["id"] for m in await first.events(1)] == [deploy.id]
        assert [m["event"]["id"] for m in await second.events(1)] == [backup.id]
        for client in (first, second):
            await client.close()

    run(scenario)


UNKNOWN = "Unknown query parameter. Known: event_type, severity, source."
UNKNOWN_IN_HANDSHAKE = (
    "Unknown query parameter. Known: event_type, severity, source, after, subscribe."
)


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ("severity=fatal", {"severity": ['"fatal" is not a valid choice.']}),
        ("sevrity=error", {"sevrity": [UNKNOWN_IN_HANDSHAKE]}),
        ("source=", {"source": ["This parameter may not be empty: give a value or leave it out."]}),
        (
            "event_type=a&event_type=b",
            {"event_type": ["This parameter takes one value; it was given 2 times."]},
        ),
        ("after=-1", {"after": ["A position: an integer from 0, as a message's `position`."]}),
        ("after=abc", {"after": ["A position: an integer from 0, as a message's `position`."]}),
        ("after=1&after=2", {"after": ["This parameter takes one value; it was given 2 times."]}),
    ],
)
def test_a_bad_filter_or_position_is_named_and_the_socket_closed(token, query, errors):
    async def scenario():
        client = StreamClient(query, token=token)
        assert (await client.connect())[0]
        assert await client.receive() == {"type": "error", "errors": errors}
        assert await client.receive() == {"close": 4400}

    run(scenario)


def test_a_rolled_back_write_is_never_sent(token):
    def rolled_back():
        with suppress(ZeroDivisionError), transaction.atomic():
            create(message="rolled back")
            SystemEvent.objects.update(message="rolled back too")
            1 / 0  # noqa: B018

    async def scenario():
        client = StreamClient(token=token)
        assert (await client.connect())[0]
        await client.receive()
        await in_thread(rolled_back)
        committed = await in_thread(create, message="committed")
        [message] = await client.events(1)
        assert message["event"]["id"] == committed.id
        await client.close()

    run(scenario)


def test_a_revoked_token_closes_its_socket(token):
    async def scenario():
        client = StreamClient(token=token)
        assert (await client.connect())[0]
        await client.receive()
        await in_thread(lambda: APIToken.objects.filter(digest=token_digest(token)).delete())
        assert await client.receive() == {"close": 4401}

    run(scenario)


def test_a_revoked_token_closes_every_socket_it_opened_and_no_other(token, other_user):
    other_token = token_create(user=other_user)

    async def scenario():
        revoked = [StreamClient(token=token), StreamClient(token=token)]
        kept = StreamClient(token=other_token)
        for client in (*revoked, kept):
            assert (await client.connect())[0]
            await client.receive()
        await in_thread(lambda: APIToken.objects.filter(digest=token_digest(token)).delete())
        for client in revoked:
            assert await client.receive() == {"close": 4401}
        event = await in_thread(create)
        [message] = await kept.events(1)
        assert message["event"]["id"] == event.id
        await kept.close()

    run(scenario)


def overlapping_writes(first_inserted, second_committed, first_may_commit):
    """Two transactions: the first inserts an event (the lower id) and commits only once told;
    the second inserts one (the higher id) and commits meanwhile. Returns the first's thread."""

    def first():
        try:
            with transaction.atomic():
                first_inserted.append(create(message="lower id, committed last"))
                first_may_commit.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    while not first_inserted:
        threading.Event().wait(0.01)
    second_committed.append(create(message="higher id, committed first"))
    return thread


def test_resume_after_a_position_has_no_gap_and_no_duplicate_when_ids_commit_out_of_order(token):
    first, second, may_commit = [], [], threading.Event()

    async def scenario():
        client = StreamClient(token=token)
        assert (await client.connect())[0]
        await client.receive()
        thread = await in_thread(overlapping_writes, first, second, may_commit)
        [seen] = await client.events(1)
        assert seen["event"]["id"] == second[0].id
        await client.close()

        may_commit.set()
        await in_thread(thread.join)
        after_reconnect = await in_thread(create, message="after the reconnect")
        client = StreamClient(f"after={seen['position']}", token=token)
        assert (await client.connect())[0]
        assert (await client.receive())["position"] == seen["position"]
        resumed = await client.events(2)
        assert [m["event"]["id"] for m in resumed] == [first[0].id, after_reconnect.id]
        assert [m["position"] for m in resumed] == [seen["position"] + 1, seen["position"] + 2]
        await client.close()

    run(scenario)


def test_resume_while_events_are_written_gets_each_committed_event_once_in_order(token):
    stop = threading.Event()
    written = []

    def writer():
        try:
            while not stop.is_set() and len(written) < 300:
                with transaction.atomic():
                    written.extend(
                        e.id
                        for e in SystemEvent.objects.bulk_create(
                            [SystemEvent(event_type="load", severity="info", message="m")] * 1
                            + [SystemEvent(event_type="load", severity="warning", message="n")]
                        )
                    )
        finally:
            connection.close()

    async def scenario():
        received = []
        client = StreamClient("event_type=load", token=token)
        assert (await client.connect())[0]
        start = (await client.receive())["position"]
        thread = threading.Thread(target=writer)
        thread.start()
        received += await client.events(40)
        await client.close()
        while len(written) < 120:
            await in_thread(threading.Event().wait, 0.05)
        client = StreamClient(f"event_type=load&after={received[-1]['position']}", token=token)
        assert (await client.connect())[0]
        await client.receive()
        received += await client.events(80)
        stop.set()
        await in_thread(thread.join)
        total = len(written)
        received += await client.events(total - len(received))
        await client.close()
        positions = [m["position"] for m in received]
        assert positions == sorted(set(positions)) and positions[0] > start
        assert sorted(m["event"]["id"] for m in received) == sorted(written)

    run(scenario)


def test_a_subscriber_that_falls_behind_is_told_to_resume_and_closed(token, settings):
    settings.EVENT_STREAM_BUFFER = 5

    async def scenario():
        slow = StreamClient(token=token)
        assert (await slow.connect())[0]
        start = (await slow.receive())["position"]
        flood = [SystemEvent(event_type="flood", severity="info", message="x") for _ in range(50)]
        events = await in_thread(SystemEvent.objects.bulk_create, flood)
        messages = []
        while "close" not in (message := await slow.receive()):
            messages.append(message)
        assert message == {"close": 4408}
        *sent, notice = messages
        assert notice == {"type": "resume", "after": notice["after"], "reason": "too slow"}
        assert [m["event"]["id"] for m in sent] == [e.id for e in events[: len(sent)]]
        assert notice["after"] == start + len(sent)

        resumed = StreamClient(f"after={notice['after']}", token=token)
        assert (await resumed.connect())[0]
        await resumed.receive()
        rest = await resumed.events(50 - len(sent))
        assert [m["event"]["id"] for m in rest] == [e.id for e in events[len(sent) :]]
        await resumed.close()

    run(scenario)


def test_pruning_keeps_a_run_of_positions_and_refuses_to_resume_from_before_it(token):
    create()
    create()
    event_changes_prune()  # numbers them; both are recent
    older = EventChange.objects.update(stamped_at=timezone.now() - timedelta(days=2))
    kept = create()
    assert event_changes_prune() == older  # the two, and any change an earlier test left
    [change] = EventChange.objects.exclude(last_position=None)

    async def scenario():
        gone = StreamClient(f"after={change.last_position - 2}", token=token)
        assert (await gone.connect())[0]
        assert (await gone.receive())["type"] == "error"
        assert await gone.receive() == {"close": 4410}
        resumed = StreamClient(f"after={change.last_position - 1}", token=token)
        assert (await resumed.connect())[0]
        await resumed.receive()
        [message] = await resumed.events(1)
        assert message["event"]["id"] == kept.id
        await resumed.close()

    run(scenario)


@pytest.fixture
def old_partition():
    """The partition of system_events for the month of 200 days ago (dropped after the test,
    unless the test dropped it)."""
    start = partitions.period_start("month", timezone.now() - timedelta(days=200))
    with transaction.atomic(), connection.cursor() as cursor:
        name = partitions.partition_create(cursor, "system_events", "timestamp", "month", start)
    yield partitions.Partition(name, start, partitions.period_next("month", start))
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")


def test_a_dropped_partition_is_one_purge_message_in_order_and_on_resume(token, old_partition):
    old = create(timestamp=old_partition.start + timedelta(days=1), severity="info")

    def drop_rolled_back():
        with suppress(ZeroDivisionError), transaction.atomic(), connection.cursor() as cursor:
            partition_drop(cursor, old_partition)
            1 / 0  # noqa: B018

    async def scenario():
        # Its filters match neither the dropped event nor the purge: it takes the purge anyway.
        client = StreamClient("severity=critical", token=token)
        assert (await client.connect())[0]
        subscribed = await client.receive()
        await in_thread(drop_rolled_back)
        dropped = await in_thread(
            event_partitions_drop, older_than=timezone.now() - timedelta(days=90)
        )
        assert dropped == 1
        later = await in_thread(create, severity="critical")
        purge = await client.receive()
        assert purge == {
            "type": "purge",
            "position": subscribed["position"] + 1,
            "from": old_partition.start.isoformat().replace("+00:00", "Z"),
            "before": old_partition.end.isoformat().replace("+00:00", "Z"),
        }
        [message] = await client.events(1)
        assert (message["event"]["id"], message["position"]) == (later.id, purge["position"] + 1)
        await client.close()

        resumed = StreamClient(f"after={subscribed['position']}", token=token)
        assert (await resumed.connect())[0]
        await resumed.receive()
        assert await resumed.receive() == purge
        [message] = await resumed.events(1)
        assert message["event"]["id"] == later.id
        await resumed.close()

    run(scenario)
    assert not SystemEvent.objects.filter(pk=old.pk).exists()
