"""Reads from a replica, with read-your-writes (brain.db.replicas).

The replicas here are the test settings' `replica1` and `replica2`, mirrors of the test database
(TEST["MIRROR"]): connections of their own, apart from the transaction the test writes in, so they
see none of the test's writes. They are replicas that lag behind every write of the test: a row the
test wrote is found on the primary and missing on a replica, which shows where each read went,
and so do the connections' query logs.
"""

from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connections, router, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from brain.db.replicas import PIN_COOKIE, Reads, pin_key, reading
from brain.tokens import token_create
from events import lifecycle
from events.models import SystemEvent
from events.stream import log
from scheduling.models import ExecutionResult, ScheduledTask
from scheduling.scheduler import Scheduler

pytestmark = pytest.mark.django_db(databases=["default", "replica1", "replica2"])

EVENT = {"event_type": "deploy", "severity": "info", "message": "shipped"}


@pytest.fixture(autouse=True)
def _replicas(settings):
    settings.DATABASE_REPLICAS = ["replica1"]


@pytest.fixture(scope="module", autouse=True)
def _close_replica_pool():
    """The replicas' pools are not the test database's, which Django closes before dropping it."""
    yield
    for alias in ["replica1", "replica2"]:
        connections[alias].close()
        connections[alias].close_pool()


@pytest.fixture
def event():
    return SystemEvent.objects.create(**EVENT)


class Served:
    """The SQL each database ran in the block."""

    def __init__(self, primary, replica):
        self._primary, self._replica = primary, replica

    @property
    def primary(self):
        return " ".join(query["sql"] for query in self._primary.captured_queries)

    @property
    def replica(self):
        return " ".join(query["sql"] for query in self._replica.captured_queries)


@contextmanager
def served():
    with (
        CaptureQueriesContext(connections["default"]) as primary,
        CaptureQueriesContext(connections["replica1"]) as replica,
    ):
        yield Served(primary, replica)


def test_a_read_goes_to_the_replica_and_authentication_to_the_primary(api_client, event):
    with served() as sql:
        response = api_client.get("/api/events")

    assert response.status_code == 200
    assert response.json()["count"] == 0  # the replica has not replayed the test's writes
    assert "system_events" in sql.replica
    assert "system_events" not in sql.primary
    assert "api_tokens" in sql.primary


def test_the_client_that_wrote_reads_the_primary_and_others_the_replica(api_client, other_client):
    created = api_client.post("/api/events", EVENT)
    assert created.status_code == 201

    with served() as sql:
        mine = api_client.get("/api/events").json()
    theirs = other_client.get("/api/events").json()

    assert [row["id"] for row in mine["results"]] == [created.json()["id"]]
    assert "system_events" not in sql.replica
    assert theirs["count"] == 0


def test_a_token_is_pinned_for_replica_pin_seconds_then_reads_the_replica_again(user, settings):
    settings.REPLICA_PIN_SECONDS = 15
    authorization = f"Token {token_create(user=user)}"
    api_client = APIClient()
    api_client.credentials(HTTP_AUTHORIZATION=authorization)
    task = api_client.post("/api/tasks", {"skill_name": "demo.echo", "schedule_cron": "0 0 1 1 *"})
    assert task.status_code == 201
    path = f"/api/tasks/{task.json()['id']}"
    key = pin_key(authorization)

    assert 0 < cache.ttl(key) <= 15
    assert api_client.get(path).status_code == 200

    cache.delete(key)  # what REPLICA_PIN_SECONDS later leaves
    assert api_client.get(path).status_code == 404  # the replica has not replayed it


def test_a_client_without_a_token_is_pinned_by_a_cookie(user, settings):
    settings.REPLICA_PIN_SECONDS = 15
    browser = APIClient()
    browser.force_login(user)

    created = browser.post("/api/events", EVENT)
    cookie = created.cookies[PIN_COOKIE]
    mine = browser.get("/api/events").json()
    browser.cookies.pop(PIN_COOKIE)
    later = browser.get("/api/events").json()

    assert (cookie["max-age"], cookie["httponly"], cookie["samesite"]) == (15, True, "Lax")
    assert mine["count"] == 1
    assert later["count"] == 0


def test_a_write_request_reads_only_the_primary(staff_client, event):
    with served() as sql:
        response = staff_client.patch(f"/api/events/{event.pk}", {"message": "fixed"})

    assert response.status_code == 200
    assert response.json()["message"] == "fixed"
    assert sql.replica == ""


def test_a_request_reads_the_primary_once_it_has_written():
    with reading(Reads(replica="replica1")):
        written = SystemEvent.objects.create(**EVENT)
        found = SystemEvent.objects.filter(pk=written.pk).exists()

    assert found


def test_select_for_update_uses_the_primary(event):
    with reading(Reads(replica="replica1")), transaction.atomic():
        locked = SystemEvent.objects.select_for_update().get(pk=event.pk)

    assert locked == event


def test_cached_answers_are_computed_on_the_primary(api_client, event):
    """A cached body is served as current under the generations read before it was computed: one
    read from a lagging replica would be served stale until it expires. So a miss computes on
    the primary, while an uncached list reads the replica."""
    with served() as sql:
        one = api_client.get(f"/api/events/{event.pk}")
        page = api_client.get("/api/events/type/deploy").json()
        stats = api_client.get("/api/events/stats").json()
    listed = api_client.get("/api/events", {"event_type": "deploy"}).json()

    assert one.status_code == 200
    assert one.json()["message"] == "shipped"
    assert [row["id"] for row in page["results"]] == [event.pk]
    assert stats["total"] == 1
    assert "system_events" not in sql.replica
    assert cache.get(f"events:id:{event.pk}") is not None
    assert listed["count"] == 0  # the replica's answer, never cached


def test_the_dashboard_lists_from_the_replica(admin_client, event):
    SystemEvent.objects.create(event_type="deploy", severity="error", message="boom")

    with served() as sql:
        response = admin_client.get("/admin/events/dashboard/")

    assert response.status_code == 200
    assert "boom" not in response.content.decode()  # the latest errors: the replica's
    assert "system_events" in sql.replica


def test_a_readiness_probe_compares_the_health_state_on_the_primary(anon_client, monkeypatch):
    SystemEvent.objects.create(
        event_type=lifecycle.HEALTH_STATE_CHANGED,
        severity="info",
        message="Health changed from unknown to ok",
        details={"from": None, "to": "ok"},
    )
    monkeypatch.setattr(lifecycle.health_recorder, "state", None)  # a worker's first probe

    assert anon_client.get("/health/ready").status_code == 200

    # The replica has no record of the state: compared there, the probe would record it again.
    assert SystemEvent.objects.filter(event_type=lifecycle.HEALTH_STATE_CHANGED).count() == 1


def test_the_scheduler_reads_and_claims_on_the_primary(user):
    task = ScheduledTask.objects.create(
        user=user,
        skill_name="demo.echo",
        schedule_cron="0 0 1 1 *",
        params_json={"message": "hello"},
        next_run_at=timezone.now() - timedelta(minutes=1),
    )

    with served() as sql:
        Scheduler(worker_id="test-worker", poll_interval=0.05).run(once=True)

    assert ExecutionResult.objects.get(task=task).output_text == "hello"
    assert sql.replica == ""


def test_the_stream_resumes_from_the_primary(event):
    with reading(Reads(replica="replica1")):
        head = log.stamp()
        changes = log.read(after=0, until=head)

    # The replica has not replayed the test's event: only the primary's log holds it.
    assert event.pk in [change.row.get("id") for change in changes]  # a purge has a range


def test_migrations_run_on_the_primary_only():
    assert router.allow_migrate("default", "events")
    assert not router.allow_migrate("replica1", "events")


def test_each_request_reads_from_one_replica_of_several(api_client, settings):
    settings.DATABASE_REPLICAS = ["replica1", "replica2"]
    served_by = []
    for _ in range(30):
        with CaptureQueriesContext(connections["replica1"]) as one:
            with CaptureQueriesContext(connections["replica2"]) as two:
                assert api_client.get("/api/events").status_code == 200
        served_by.append((bool(one.captured_queries), bool(two.captured_queries)))

    assert set(served_by) == {(True, False), (False, True)}
