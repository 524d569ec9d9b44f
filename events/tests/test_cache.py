import contextlib
import threading
import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import transaction
from redis.connection import AbstractConnection

from brain import invalidation
from events import cache as events_cache
from events.models import SystemEvent
from events.services import event_purge

from .conftest import event_json, redis_keys
from .factories import SystemEventFactory

pytestmark = pytest.mark.django_db


def test_keys_and_ttls(api_client):
    event = SystemEventFactory(event_type="deploy")
    url_hash = events_cache.variant_hash("http://testserver/api/events/type/deploy")

    api_client.get(f"/api/events/{event.id}")
    api_client.get("/api/events/type/deploy")
    api_client.get("/api/events/stats")

    assert redis_keys() == sorted(
        [
            f"brain:events:id:{event.id}",
            f"brain:events:type:deploy:{url_hash}",
            "brain:events:stats",
        ]
    )
    client = cache.client.get_client(write=True)
    assert 295 < client.ttl(f"brain:events:id:{event.id}") <= 300
    assert 55 < client.ttl(f"brain:events:type:deploy:{url_hash}") <= 60
    assert 25 < client.ttl("brain:events:stats") <= 30


def test_filtered_stats_have_their_own_key(api_client):
    api_client.get("/api/events/stats?severity=error")

    assert redis_keys() == [
        f"brain:events:stats:{events_cache.variant_hash(repr([('severity', "['error']")]))}"
    ]


def test_a_type_is_quoted_in_its_key(api_client):
    api_client.get("/api/events/type/a:b c")

    assert [key.rsplit(":", 1)[0] for key in redis_keys()] == ["brain:events:type:a%3Ab%20c"]


def test_a_write_bumps_generations_instead_of_scanning(
    api_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post(
            "/api/events",
            {"event_type": "deploy", "severity": "info", "message": "m"},
            format="json",
        )

    assert redis_keys("brain:events:*gen") == [
        "brain:events:stats:gen",
        "brain:events:type:deploy:gen",
    ]
    assert cache.get_many(["events:stats:gen", "events:type:deploy:gen"]) == {
        "events:stats:gen": 1,
        "events:type:deploy:gen": 1,
    }


def test_generations_of_events_and_free_text_types_expire(
    staff_client, django_capture_on_commit_callbacks
):
    event = SystemEventFactory(event_type="deploy")
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.patch(f"/api/events/{event.id}", {"event_type": "a new type"}, format="json")
        staff_client.post(
            "/api/events/bulk",
            [{"event_type": f"type {n}", "severity": "info", "message": "m"} for n in range(3)],
            format="json",
        )

    client = cache.client.get_client(write=True)
    ttls = {key: client.ttl(key) for key in redis_keys("brain:events:*gen")}
    assert ttls.pop("brain:events:stats:gen") == -1  # one counter, whatever the data
    assert 590 < ttls.pop(f"brain:events:id:{event.id}:gen") <= 600
    assert sorted(ttls) == [
        "brain:events:type:a%20new%20type:gen",
        "brain:events:type:deploy:gen",
        "brain:events:type:type%200:gen",
        "brain:events:type:type%201:gen",
        "brain:events:type:type%202:gen",
    ]
    assert all(110 < ttl <= 120 for ttl in ttls.values())


def test_event_read_after_update(api_client, staff_client, django_capture_on_commit_callbacks):
    event = SystemEventFactory(severity="info")
    api_client.get(f"/api/events/{event.id}")

    with django_capture_on_commit_callbacks(execute=True):
        staff_client.put(f"/api/events/{event.id}", {"severity": "critical"}, format="json")
    response = api_client.get(f"/api/events/{event.id}")

    assert response.json()["severity"] == "critical"


def test_event_read_after_delete(api_client, staff_client, django_capture_on_commit_callbacks):
    event = SystemEventFactory()
    api_client.get(f"/api/events/{event.id}")

    with django_capture_on_commit_callbacks(execute=True):
        staff_client.delete(f"/api/events/{event.id}")

    assert api_client.get(f"/api/events/{event.id}").status_code == 404


def test_type_read_after_create(api_client, django_capture_on_commit_callbacks):
    api_client.get("/api/events/type/deploy")

    with django_capture_on_commit_callbacks(execute=True):
        created = api_client.post(
            "/api/events",
            {"event_type": "deploy", "severity": "info", "message": "m"},
            format="json",
        ).json()

    assert api_client.get("/api/events/type/deploy").json()["results"] == [created]


def test_type_read_after_a_change_of_type(
    api_client, staff_client, django_capture_on_commit_callbacks
):
    event = SystemEventFactory(event_type="deploy")
    api_client.get("/api/events/type/deploy")
    api_client.get("/api/events/type/backup")

    with django_capture_on_commit_callbacks(execute=True):
        staff_client.patch(f"/api/events/{event.id}", {"event_type": "backup"}, format="json")

    assert api_client.get("/api/events/type/deploy").json()["count"] == 0
    assert api_client.get("/api/events/type/backup").json()["count"] == 1


def test_type_read_after_an_orm_save(api_client, django_capture_on_commit_callbacks):
    event = SystemEventFactory(event_type="deploy", message="old")
    api_client.get("/api/events/type/deploy")
    api_client.get(f"/api/events/{event.id}")

    event = SystemEvent.objects.get()
    event.message = "new"
    with django_capture_on_commit_callbacks(execute=True):
        event.save()

    assert api_client.get("/api/events/type/deploy").json()["results"][0]["message"] == "new"
    assert api_client.get(f"/api/events/{event.id}").json()["message"] == "new"


def test_a_hand_built_save_invalidates_every_type(api_client, django_capture_on_commit_callbacks):
    event = SystemEventFactory(event_type="deploy")
    api_client.get("/api/events/type/deploy")

    with django_capture_on_commit_callbacks(execute=True):
        SystemEvent(
            id=event.id,
            event_type="backup",
            severity="info",
            message="m",
            timestamp=event.timestamp,
            created_at=event.created_at,
        ).save()

    assert api_client.get("/api/events/type/deploy").json()["count"] == 0


def test_stats_read_after_create_update_and_delete(
    api_client, staff_client, django_capture_on_commit_callbacks
):
    def by_severity():
        return api_client.get("/api/events/stats").json()["by_severity"]

    assert by_severity() == {"info": 0, "warning": 0, "error": 0, "critical": 0}
    with django_capture_on_commit_callbacks(execute=True):
        event_id = api_client.post(
            "/api/events",
            {"event_type": "deploy", "severity": "info", "message": "m"},
            format="json",
        ).json()["id"]
    assert by_severity() == {"info": 1, "warning": 0, "error": 0, "critical": 0}
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.put(f"/api/events/{event_id}", {"severity": "error"}, format="json")
    assert by_severity() == {"info": 0, "warning": 0, "error": 1, "critical": 0}
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.delete(f"/api/events/{event_id}")
    assert by_severity() == {"info": 0, "warning": 0, "error": 0, "critical": 0}


def test_caches_read_after_bulk(api_client, django_capture_on_commit_callbacks):
    api_client.get("/api/events/type/deploy")
    api_client.get("/api/events/stats")

    with django_capture_on_commit_callbacks(execute=True):
        api_client.post(
            "/api/events/bulk",
            [{"event_type": "deploy", "severity": "info", "message": "m"}] * 2,
            format="json",
        )

    assert api_client.get("/api/events/type/deploy").json()["count"] == 2
    assert api_client.get("/api/events/stats").json()["total"] == 2


def test_caches_read_after_a_queryset_update(api_client, django_capture_on_commit_callbacks):
    event = SystemEventFactory(event_type="deploy", severity="info", message="old")
    other = SystemEventFactory(event_type="backup", severity="warning", message="untouched")
    for path in [
        f"/api/events/{event.id}",
        f"/api/events/{other.id}",
        "/api/events/type/deploy",
        "/api/events/stats",
    ]:
        api_client.get(path)

    with django_capture_on_commit_callbacks(execute=True):
        assert SystemEvent.objects.filter(pk=event.pk).update(message="new", severity="error") == 1

    event.refresh_from_db()
    assert api_client.get(f"/api/events/{event.id}").json() == event_json(event)
    assert api_client.get(f"/api/events/{other.id}").json()["message"] == "untouched"
    assert api_client.get("/api/events/type/deploy").json()["results"] == [event_json(event)]
    assert api_client.get("/api/events/stats").json()["by_severity"] == {
        "info": 0,
        "warning": 1,
        "error": 1,
        "critical": 0,
    }


def test_an_update_of_no_rows_invalidates_nothing(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        assert SystemEvent.objects.filter(pk=0).update(message="new") == 0

    assert callbacks == []


def test_caches_read_after_a_bulk_update(api_client, django_capture_on_commit_callbacks):
    events = SystemEventFactory.create_batch(2, event_type="deploy", message="old")
    for path in [
        f"/api/events/{events[0].id}",
        "/api/events/type/deploy",
        "/api/events/type/backup",
    ]:
        api_client.get(path)
    events = list(SystemEvent.objects.order_by("id"))
    for event in events:
        event.message, event.event_type = "new", "backup"

    with django_capture_on_commit_callbacks(execute=True):
        assert SystemEvent.objects.bulk_update(events, ["message", "event_type"]) == 2

    assert api_client.get(f"/api/events/{events[0].id}").json()["message"] == "new"
    assert api_client.get("/api/events/type/deploy").json()["count"] == 0
    assert api_client.get("/api/events/type/backup").json()["count"] == 2


def test_caches_read_after_an_orm_bulk_create(api_client, django_capture_on_commit_callbacks):
    api_client.get("/api/events/type/deploy")
    api_client.get("/api/events/stats")

    with django_capture_on_commit_callbacks(execute=True):
        SystemEvent.objects.bulk_create(
            [SystemEvent(event_type="deploy", severity="info", message="m") for _ in range(2)]
        )

    assert api_client.get("/api/events/type/deploy").json()["count"] == 2
    assert api_client.get("/api/events/stats").json()["total"] == 2


def test_caches_read_after_purge(api_client, django_capture_on_commit_callbacks):
    old = SystemEventFactory(event_type="deploy", timestamp="2020-01-01T00:00:00Z")
    SystemEventFactory(event_type="deploy")
    for path in [f"/api/events/{old.id}", "/api/events/type/deploy", "/api/events/stats"]:
        api_client.get(path)

    with django_capture_on_commit_callbacks(execute=True):
        assert (
            event_purge(
                older_than=SystemEventFactory._meta.model.objects.latest("timestamp").timestamp
            )
            == 1
        )

    assert api_client.get(f"/api/events/{old.id}").status_code == 404
    assert api_client.get("/api/events/type/deploy").json()["count"] == 1
    assert api_client.get("/api/events/stats").json()["total"] == 1


@pytest.mark.django_db(transaction=True)
def test_nothing_is_invalidated_before_commit_nor_after_a_rollback(api_client):
    event = SystemEventFactory(severity="info")
    api_client.get(f"/api/events/{event.id}")

    with transaction.atomic():
        SystemEvent.objects.filter(pk=event.pk).get().delete()
        assert redis_keys(f"brain:events:id:{event.id}") == [f"brain:events:id:{event.id}"]
        transaction.set_rollback(True)

    assert redis_keys(f"brain:events:id:{event.id}") == [f"brain:events:id:{event.id}"]


def test_an_event_computed_before_a_concurrent_write_is_never_served(
    django_capture_on_commit_callbacks,
):
    def compute_during_a_write():
        # Another request's write of the event commits while this body is computed from the old row.
        with django_capture_on_commit_callbacks(execute=True):
            events_cache.invalidate_after_commit(event_ids=[7])
        return b"old"

    assert events_cache.event_body(7, compute_during_a_write) == b"old"
    assert events_cache.event_body(7, lambda: b"new") == b"new"
    assert events_cache.event_body(7, lambda: b"unused") == b"new"


def test_a_cached_event_and_its_generations_are_read_in_one_round_trip(monkeypatch):
    events_cache.event_body(7, lambda: b"body")
    client = cache.client.get_client(write=True)
    calls = []
    for name in ("get", "mget", "eval"):
        original = getattr(client, name)
        monkeypatch.setattr(
            client,
            name,
            lambda *args, _name=name, _original=original: calls.append(_name) or _original(*args),
        )

    body = events_cache.event_body(7, lambda: pytest.fail("computed again"))

    assert (body, calls) == (b"body", ["mget"])


def test_a_body_computed_before_a_concurrent_write_is_never_served():
    def compute_during_a_write():
        # Another request's write commits while this body is computed from the old rows.
        cache.incr(events_cache.STATS_GENERATION_KEY, ignore_key_check=True)
        return b"old"

    assert events_cache.stats_body("", compute_during_a_write) == b"old"
    assert events_cache.stats_body("", lambda: b"new") == b"new"
    assert events_cache.stats_body("", lambda: b"unused") == b"new"


def test_stats_wait_for_the_worker_already_computing():
    invalidation.drain()  # the lease is alive
    generations = (0,)
    cache.add("events:stats:lock", 1, 10)
    # Another worker holds the lock and stores its result a few polls later.
    other_worker = threading.Timer(
        0.2, lambda: cache.set("events:stats", (generations, b"theirs"), 30)
    )
    other_worker.start()

    try:
        body = events_cache.stats_body("", lambda: pytest.fail("computed twice"))
    finally:
        other_worker.join()

    assert body == b"theirs"


def test_stats_are_computed_when_the_lock_holder_takes_too_long(monkeypatch):
    cache.add("events:stats:lock", 1, 10)
    monkeypatch.setattr(events_cache, "STATS_WAIT_SECONDS", 0)

    assert events_cache.stats_body("", lambda: b"mine") == b"mine"


def test_concurrent_stats_misses_compute_once():
    invalidation.drain()  # the lease is alive
    calls = []

    def slow_compute():
        calls.append(1)
        time.sleep(0.3)
        return b"stats"

    results = []
    threads = [
        threading.Thread(target=lambda: results.append(events_cache.stats_body("", slow_compute)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [b"stats"] * 8
    assert len(calls) == 1
    assert redis_keys("brain:events:stats:lock") == []


@pytest.mark.usefixtures("redis_down")
def test_every_endpoint_answers_from_postgresql_when_redis_is_down(
    api_client, staff_client, django_capture_on_commit_callbacks
):
    assert cache.set("probe", 1) is None and cache.get("probe") is None  # Redis is unreachable
    with django_capture_on_commit_callbacks(execute=True):
        created = api_client.post(
            "/api/events",
            {"event_type": "deploy", "severity": "info", "message": "m"},
            format="json",
        )
        bulk = api_client.post(
            "/api/events/bulk",
            [{"event_type": "deploy", "severity": "error", "message": "b"}],
            format="json",
        )
    event = SystemEvent.objects.get(pk=created.json()["id"])

    assert created.status_code == 201
    assert bulk.status_code == 201
    assert api_client.get(f"/api/events/{event.id}").json() == event_json(event)
    assert api_client.get("/api/events").json()["count"] == 2
    assert api_client.get("/api/events/type/deploy").json()["count"] == 2
    assert api_client.get("/api/events/stats").json()["by_severity"] == {
        "info": 1,
        "warning": 0,
        "error": 1,
        "critical": 0,
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            staff_client.patch(
                f"/api/events/{event.id}", {"severity": "critical"}, format="json"
            ).status_code
            == 200
        )
    assert api_client.get(f"/api/events/{event.id}").json()["severity"] == "critical"
    assert api_client.get("/api/events/stats").json()["by_severity"]["critical"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert staff_client.delete(f"/api/events/{event.id}").status_code == 204
    assert api_client.get(f"/api/events/{event.id}").status_code == 404


def test_a_batch_of_deletes_shares_one_invalidation(django_capture_on_commit_callbacks):
    SystemEventFactory.create_batch(3, event_type="deploy", timestamp="2020-01-01T00:00:00Z")

    with django_capture_on_commit_callbacks() as callbacks:
        event_purge(
            older_than=SystemEvent.objects.latest("timestamp").timestamp + timedelta(seconds=1)
        )

    [invalidation] = callbacks  # the rows' post_delete receivers' and the purge's, pooled
    assert (len(invalidation.event_ids), invalidation.all_types) == (3, True)


def test_a_queryset_delete_schedules_one_invalidation(django_capture_on_commit_callbacks):
    events = SystemEventFactory.create_batch(3, event_type="deploy")

    with django_capture_on_commit_callbacks() as callbacks:
        assert SystemEvent.objects.filter(event_type="deploy").delete()[0] == 3

    [invalidation] = callbacks
    assert (invalidation.event_ids, invalidation.event_types) == (
        {event.id for event in events},
        {"deploy"},
    )


@pytest.mark.django_db(transaction=True)
def test_separate_writes_in_one_transaction_each_invalidate_after_commit():
    first, second = SystemEventFactory(event_type="a"), SystemEventFactory(event_type="b")
    cache.clear()  # the creates' invalidations, run at once in autocommit

    with transaction.atomic():
        first.delete()
        with contextlib.suppress(RuntimeError), transaction.atomic():
            second.delete()
            raise RuntimeError
        assert cache.get_many(["events:type:a:gen", "events:type:b:gen"]) == {}

    assert cache.get_many(["events:type:a:gen", "events:type:b:gen"]) == {"events:type:a:gen": 1}


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_savepoint_drops_its_invalidation_only():
    with transaction.atomic():
        with contextlib.suppress(RuntimeError), transaction.atomic():
            events_cache.invalidate_after_commit(event_types={"rolled_back"})
            raise RuntimeError
        events_cache.invalidate_after_commit(event_types={"kept"})

    assert cache.get_many(["events:type:rolled_back:gen", "events:type:kept:gen"]) == {
        "events:type:kept:gen": 1
    }


def test_one_round_trip_invalidates_everything(django_capture_on_commit_callbacks, monkeypatch):
    with django_capture_on_commit_callbacks(execute=True):  # Redis learns the script (EVAL)
        events_cache.invalidate_after_commit(event_ids=[3])
    cache.clear()
    invalidation.drain()  # the lease is alive, as between any two writes
    sent = []
    send = AbstractConnection.send_packed_command
    monkeypatch.setattr(
        AbstractConnection,
        "send_packed_command",
        lambda connection, command, *args, **kwargs: (
            sent.append(command) or send(connection, command, *args, **kwargs)
        ),
    )

    with django_capture_on_commit_callbacks(execute=True):
        events_cache.invalidate_after_commit(event_ids=[1, 2], event_types={"a", "b"})

    assert len(sent) == 1
    assert redis_keys("brain:events:*") == sorted(
        [
            "brain:events:id:1:gen",
            "brain:events:id:2:gen",
            "brain:events:stats:gen",
            "brain:events:type:a:gen",
            "brain:events:type:b:gen",
        ]
    )
    assert cache.get_many(["events:id:1:gen", "events:id:2:gen", "events:stats:gen"]) == {
        "events:id:1:gen": 1,
        "events:id:2:gen": 1,
        "events:stats:gen": 1,
    }
    assert 595 < cache.client.get_client(write=True).ttl("brain:events:id:1:gen") <= 600


def test_invalidation_works_after_redis_forgets_the_script(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        events_cache.invalidate_after_commit(event_types={"deploy"})
    cache.client.get_client(write=True).script_flush()  # as after a Redis restart

    with django_capture_on_commit_callbacks(execute=True):
        events_cache.invalidate_after_commit(event_types={"deploy"})

    assert cache.get_many(["events:stats:gen", "events:type:deploy:gen"]) == {
        "events:stats:gen": 2,
        "events:type:deploy:gen": 2,
    }


def test_too_many_events_bump_the_all_events_generation(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        events_cache.invalidate_after_commit(
            event_ids=range(events_cache.MAX_EVENT_GENERATIONS + 1)
        )

    assert redis_keys("brain:events:*gen") == ["brain:events:id:gen", "brain:events:stats:gen"]
