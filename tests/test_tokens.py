"""API tokens: stored as hashes only, several per user, each with a name, a scope and an expiry;
revoked at once; DRF's tokens hashed in place by the migration."""

import json
import logging
import time
from datetime import timedelta
from importlib import import_module
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.state import ProjectState
from django.utils import timezone
from rest_framework.authtoken.models import Token as DRFToken
from rest_framework.test import APIClient

from audit.models import AuditLog
from brain.models import APIToken
from brain.tokens import token_create, token_digest
from events.models import SystemEvent
from events.tests.stream_support import StreamClient, run

pytestmark = pytest.mark.django_db

EVENT = {"event_type": "deploy", "severity": "info", "message": "m"}
DRF_MIGRATIONS = [
    "0001_initial",
    "0002_auto_20160226_1747",
    "0003_tokenproxy",
    "0004_alter_tokenproxy_options",
]
LOGIN = {"username": "alice", "password": "alice-password-1"}


def client_of(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def obtain(anon_client, **fields):
    return anon_client.post("/api/auth/token", {**LOGIN, **fields}, format="json")


def test_only_the_hash_of_a_key_is_stored(anon_client, user):
    key = obtain(anon_client, name="ci").json()["token"]

    [row] = APIToken.objects.values()
    assert row["digest"] == token_digest(key)
    assert (row["name"], row["prefix"], row["scope"]) == ("ci", key[:8], "full")
    assert not [column for column, value in row.items() if key in str(value)]
    assert "authtoken_token" not in connection.introspection.table_names()
    assert client_of(key).get("/api/auth/me").json()["username"] == "alice"


def test_the_admin_shows_a_token_but_never_its_key_and_revokes_it(
    client, superuser, user, django_capture_on_commit_callbacks
):
    key = token_create(user=user, name="deploy bot", scope="ingest")
    token = APIToken.objects.get()
    assert client_of(key).post("/api/events", EVENT).status_code == 201  # last use set
    client.force_login(superuser)

    listing = client.get("/admin/brain/apitoken/").content.decode()
    page = client.get(f"/admin/brain/apitoken/{token.pk}/change/").content.decode()

    for html in (listing, page):
        assert "deploy bot" in html
        assert key[:8] in html
        assert "Ingest" in html
        assert key not in html
        assert token.digest not in html
    assert APIToken.objects.get().last_used_at is not None
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/brain/apitoken/",
            {"action": "delete_selected", "_selected_action": [token.pk], "post": "yes"},
        )
    assert response.status_code == 302
    assert not APIToken.objects.exists()
    assert client_of(key).post("/api/events", EVENT).status_code == 401


def test_the_admin_marks_expired_tokens_and_filters_on_expiry(client, superuser, user):
    token_create(user=user, name="lasting")
    token_create(user=user, name="later", expires_in=3600)
    token_create(user=user, name="past", expires_in=3600)
    APIToken.objects.filter(name="past").update(expires_at=timezone.now() - timedelta(seconds=1))
    client.force_login(superuser)

    def listed(query=""):
        response = client.get(f"/admin/brain/apitoken/{query}")
        assert response.status_code == 200
        return sorted(token.name for token in response.context["cl"].result_list)

    listing = client.get("/admin/brain/apitoken/").content.decode()
    assert listing.count('class="badge badge-expired"') == 1
    assert listed() == ["lasting", "later", "past"]
    assert listed("?expired=yes") == ["past"]
    assert listed("?expired=no") == ["lasting", "later"]


def test_the_admin_names_a_tokens_user_by_username_without_a_query_per_token(
    client, superuser, user, other_user, django_assert_max_num_queries, django_assert_num_queries
):
    def confirm_deletion():
        return client.post(
            "/admin/brain/apitoken/",
            {
                "action": "delete_selected",
                "_selected_action": list(APIToken.objects.values_list("pk", flat=True)),
            },
        )

    key = token_create(user=user, name="ci")
    client.force_login(superuser)
    page = client.get(f"/admin/brain/apitoken/{APIToken.objects.get().pk}/change/")
    assert page.context["subtitle"] == f"ci {key[:8]}… of alice"
    with django_assert_max_num_queries(20) as one:
        assert f"ci {key[:8]}… of alice" in confirm_deletion().content.decode()
    other = token_create(user=other_user, name="laptop")

    with django_assert_num_queries(len(one)):
        page = confirm_deletion().content.decode()

    assert f"laptop {other[:8]}… of bob" in page
    assert APIToken.objects.count() == 2


def test_each_call_gives_a_new_token_and_all_of_them_work(anon_client, user):
    keys = [obtain(anon_client, name=f"host {n}").json()["token"] for n in range(3)]

    assert len(set(keys)) == 3
    assert sorted(APIToken.objects.filter(user=user).values_list("name", flat=True)) == [
        "host 0",
        "host 1",
        "host 2",
    ]
    assert [client_of(key).get("/api/auth/me").status_code for key in keys] == [200] * 3


def test_a_token_past_its_expiry_is_refused(anon_client, user):
    key = obtain(anon_client, expires_in=3600).json()["token"]
    token = APIToken.objects.get()
    assert timedelta(seconds=3590) < token.expires_at - timezone.now() <= timedelta(seconds=3600)
    APIToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = client_of(key).get("/api/auth/me")

    assert (response.status_code, response.json()) == (401, {"detail": "Token has expired."})


def test_a_cached_token_is_refused_once_it_expires(user):
    key = token_create(user=user, expires_in=1)
    client = client_of(key)
    assert client.get("/api/auth/me").status_code == 200  # the lookup is now cached
    time.sleep(max(0, (APIToken.objects.get().expires_at - timezone.now()).total_seconds()))

    assert client.get("/api/auth/me").status_code == 401


def test_token_ttl_is_the_default_lifetime_and_the_longest(anon_client, user, settings):
    settings.TOKEN_TTL = 600

    key = obtain(anon_client).json()["token"]
    refused = obtain(anon_client, expires_in=601)

    lifetime = APIToken.objects.get(digest=token_digest(key)).expires_at - timezone.now()
    assert timedelta(seconds=590) < lifetime <= timedelta(seconds=600)
    assert (refused.status_code, refused.json()) == (
        400,
        {"expires_in": ["Ensure this value is less than or equal to 600."]},
    )


def test_without_token_ttl_a_token_does_not_expire(anon_client, user):
    obtain(anon_client)

    assert APIToken.objects.get().expires_at is None


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"name": "x" * 101}, {"name": ["Ensure this field has no more than 100 characters."]}),
        ({"name": 7}, {"name": ["Expected a JSON string, got a number."]}),
        ({"scope": "admin"}, {"scope": ['"admin" is not a valid choice.']}),
        ({"scope": None}, {"scope": ["This field may not be null."]}),
        ({"expires_in": 0}, {"expires_in": ["Ensure this value is greater than or equal to 1."]}),
        (
            {"expires_in": 365 * 24 * 3600 + 1},
            {"expires_in": ["Ensure this value is less than or equal to 31536000."]},
        ),
        ({"expires_in": "60"}, {"expires_in": ["Expected a JSON integer, got a string."]}),
        ({"expires_in": 1.5}, {"expires_in": ["Expected a JSON integer, got a number."]}),
    ],
)
def test_a_bad_name_scope_or_lifetime_is_a_400_naming_it(anon_client, user, fields, errors):
    response = obtain(anon_client, **fields)

    assert (response.status_code, response.json()) == (400, errors)
    assert not APIToken.objects.exists()


def test_an_ingest_token_creates_events_by_every_path_and_nothing_else(
    anon_client, staff_user, other_user
):
    ingest = client_of(token_create(user=staff_user, scope="ingest"))
    event = SystemEvent.objects.create(**EVENT)
    ndjson = "\n".join(json.dumps(EVENT) for _ in range(2))

    created = [
        ingest.post("/api/events", EVENT).status_code,
        ingest.post("/api/events/bulk", [EVENT, EVENT]).status_code,
        ingest.generic(
            "POST", "/api/events/bulk", ndjson, content_type="application/x-ndjson"
        ).status_code,
    ]
    refused = [
        ingest.get("/api/events"),
        ingest.get(f"/api/events/{event.pk}"),
        ingest.get("/api/events/stats"),
        ingest.get("/api/events/type/deploy"),
        ingest.get("/api/auth/me"),
        ingest.get("/api/audit"),
        ingest.get("/api/projects"),
        ingest.patch(f"/api/events/{event.pk}", {"message": "changed"}),
        ingest.delete(f"/api/events/{event.pk}"),
        ingest.post("/api/projects", {"name": "Ops"}),
        ingest.post("/api/agents", {"name": "a1", "agent_type": "worker"}),
    ]

    assert created == [201, 201, 201]
    assert SystemEvent.objects.count() == 1 + 1 + 2 + 2
    assert [response.status_code for response in refused] == [403] * len(refused)
    assert refused[0].json() == {"detail": "This API token's scope (ingest) does not allow this."}
    assert SystemEvent.objects.get(pk=event.pk).message == "m"


def test_a_read_token_reads_and_writes_nothing(staff_user):
    read = client_of(token_create(user=staff_user, scope="read"))
    event = SystemEvent.objects.create(**EVENT)

    reads = [
        read.get(f"/api/events/{event.pk}").status_code,
        read.get("/api/events").status_code,
        read.get("/api/auth/me").status_code,
        read.get("/api/audit").status_code,
    ]
    writes = [
        read.post("/api/events", EVENT),
        read.post("/api/events/bulk", [EVENT]),
        read.patch(f"/api/events/{event.pk}", {"message": "changed"}),
        read.delete(f"/api/events/{event.pk}"),
        read.post("/api/projects", {"name": "Ops"}),
    ]

    assert reads == [200, 200, 200, 200]
    assert [response.status_code for response in writes] == [403] * len(writes)
    assert writes[0].json() == {"detail": "This API token's scope (read) does not allow this."}
    assert SystemEvent.objects.count() == 1


def test_a_full_token_keeps_its_users_rights(user):
    full = client_of(token_create(user=user, scope="full"))
    event = SystemEvent.objects.create(**EVENT)

    assert full.post("/api/events", EVENT).status_code == 201
    assert full.get(f"/api/events/{event.pk}").status_code == 200
    assert full.patch(f"/api/events/{event.pk}", {"message": "x"}).status_code == 403  # not staff


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("scope", "accepted"), [("read", True), ("full", True), ("ingest", False)])
def test_the_stream_takes_read_and_full_tokens_only(user, scope, accepted):
    key = token_create(user=user, scope=scope)

    async def scenario():
        client = StreamClient(token=key)
        result = await client.connect()
        if result[0]:
            await client.close()
        return result

    assert run(scenario)[0] is accepted


@pytest.mark.django_db(transaction=True)
def test_an_expired_token_closes_its_socket(user):
    key = token_create(user=user, expires_in=1)

    async def scenario():
        client = StreamClient(token=key)
        assert (await client.connect())[0]
        await client.receive()  # the subscription's first message
        return await client.receive()

    assert run(scenario) == {"close": 4401}


def test_revoking_one_token_leaves_the_others(user, django_capture_on_commit_callbacks):
    first, second = token_create(user=user), token_create(user=user)
    assert [client_of(key).get("/api/auth/me").status_code for key in (first, second)] == [200] * 2

    with django_capture_on_commit_callbacks(execute=True):
        APIToken.objects.get(digest=token_digest(first)).delete()

    assert client_of(first).get("/api/auth/me").status_code == 401
    assert client_of(second).get("/api/auth/me").status_code == 200


def test_revoking_all_of_a_users_tokens_takes_effect_at_once(
    user, other_user, django_capture_on_commit_callbacks
):
    keys = [token_create(user=user) for _ in range(2)]
    other = token_create(user=other_user)
    assert [client_of(key).get("/api/auth/me").status_code for key in keys] == [200] * 2

    with django_capture_on_commit_callbacks(execute=True):
        APIToken.objects.filter(user=user).delete()

    assert [client_of(key).get("/api/auth/me").status_code for key in keys] == [401] * 2
    assert client_of(other).get("/api/auth/me").status_code == 200


def test_a_scope_changed_since_the_lookup_was_cached_applies_at_once(
    user, django_capture_on_commit_callbacks
):
    client = client_of(token_create(user=user))
    assert client.post("/api/events", EVENT).status_code == 201
    token = APIToken.objects.get()

    token.scope = "read"
    with django_capture_on_commit_callbacks(execute=True):
        token.save()

    assert client.post("/api/events", EVENT).status_code == 403


def test_delete_token_revokes_the_requests_own_token_at_once(
    user, django_capture_on_commit_callbacks
):
    key, kept = token_create(user=user, scope="read"), token_create(user=user)
    client = client_of(key)
    assert client.get("/api/auth/me").status_code == 200  # the lookup is now cached

    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete("/api/auth/token")

    assert (response.status_code, response.content) == (204, b"")
    again = client.get("/api/auth/me")
    assert (again.status_code, again.json()) == (401, {"detail": "Invalid token."})
    assert client.delete("/api/auth/token").status_code == 401
    assert client_of(kept).get("/api/auth/me").status_code == 200
    assert list(APIToken.objects.values_list("digest", flat=True)) == [token_digest(kept)]


def test_delete_token_needs_a_token(anon_client, user):
    token_create(user=user)
    session = APIClient()
    session.force_login(user)

    anonymous = anon_client.delete("/api/auth/token")
    by_session = session.delete("/api/auth/token")

    assert (anonymous.status_code, anonymous.json()) == (
        401,
        {"detail": "Authentication credentials were not provided."},
    )
    assert (by_session.status_code, by_session.json()) == (
        400,
        {
            "detail": "This request is authenticated by a session, not an API token: "
            "there is no token to revoke."
        },
    )
    assert APIToken.objects.count() == 1


def test_delete_tokens_revokes_every_token_of_the_user_at_once(
    user, other_user, django_capture_on_commit_callbacks
):
    keys = [token_create(user=user, scope=scope) for scope in ("full", "read", "ingest")]
    other = token_create(user=other_user)
    # Each lookup is now cached (an ingest token is refused /api/auth/me after its lookup).
    assert [client_of(key).get("/api/auth/me").status_code for key in keys] == [200, 200, 403]

    with django_capture_on_commit_callbacks(execute=True):
        response = client_of(keys[0]).delete("/api/auth/tokens")

    assert (response.status_code, response.content) == (204, b"")
    assert [client_of(key).get("/api/auth/me").status_code for key in keys] == [401] * 3
    assert client_of(other).get("/api/auth/me").status_code == 200
    assert list(APIToken.objects.values_list("user", flat=True)) == [other_user.pk]


@pytest.mark.parametrize("scope", ["read", "ingest"])
def test_only_a_full_token_revokes_every_token(user, scope):
    key = token_create(user=user, scope=scope)
    token_create(user=user)

    response = client_of(key).delete("/api/auth/tokens")

    assert (response.status_code, response.json()) == (
        403,
        {"detail": f"This API token's scope ({scope}) does not allow this."},
    )
    assert APIToken.objects.count() == 2


def test_a_session_revokes_every_token_of_its_user(anon_client, user, other_user):
    token_create(user=user)
    token_create(user=other_user)
    session = APIClient()
    session.force_login(user)

    assert anon_client.delete("/api/auth/tokens").status_code == 401
    assert session.delete("/api/auth/tokens").status_code == 204
    assert list(APIToken.objects.values_list("user", flat=True)) == [other_user.pk]


def test_revoking_through_the_api_writes_the_key_nowhere(user, caplog):
    caplog.set_level(logging.DEBUG)
    own, full = token_create(user=user), token_create(user=user)

    assert client_of(own).delete("/api/auth/token").status_code == 204
    assert client_of(full).delete("/api/auth/tokens").status_code == 204

    logged = "\n".join(str(vars(record)) for record in caplog.records)
    stored = str(list(AuditLog.objects.values())) + str(list(LogEntry.objects.values()))
    assert not [key for key in (own, full) if key in logged or key in stored]
    assert not APIToken.objects.exists()


def drf_token_table():
    """DRF's token table, made by DRF's own migrations, as a database that used DRF's tokens has
    it; returns DRF's Token model as those migrations leave it."""
    state = ProjectState.from_apps(apps)
    with connection.schema_editor() as editor:
        for name in DRF_MIGRATIONS:
            module = import_module(f"rest_framework.authtoken.migrations.{name}")
            state = module.Migration(name, "authtoken").apply(state, editor)
    return state.apps.get_model("authtoken", "Token")


@pytest.mark.django_db(transaction=True)
def test_a_drf_token_made_before_the_migration_works_after_it():
    MigrationExecutor(connection).migrate([("brain", "0001_pending_invalidations")])
    user = get_user_model().objects.create_user("legacy")
    key = DRFToken.generate_key()
    drf_token_table().objects.create(key=key, user_id=user.pk)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    response = client_of(key).get("/api/auth/me")
    assert (response.status_code, response.json()["username"]) == (200, "legacy")
    token = APIToken.objects.get()
    assert (token.user, token.scope, token.prefix) == (user, "full", key[:8])
    assert "authtoken_token" not in connection.introspection.table_names()


def test_create_token_prints_a_new_key_of_the_scope_asked(user):
    out = StringIO()

    call_command("create_token", "alice", "--name", "ci", "--scope", "read", stdout=out)

    key = out.getvalue().strip()
    token = APIToken.objects.get(digest=token_digest(key))
    assert (token.user, token.name, token.scope, token.expires_at) == (user, "ci", "read", None)
    assert client_of(key).get("/api/auth/me").status_code == 200
    assert client_of(key).post("/api/events", EVENT).status_code == 403


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["al\udcffice"], "username: Surrogate characters are not allowed: U+DCFF."),
        (["alice", "--name", "ci\udcff"], "--name: Surrogate characters are not allowed: U+DCFF."),
    ],
)
def test_create_token_refuses_text_postgresql_cannot_store_naming_it(user, arguments, message):
    with pytest.raises(CommandError) as raised:
        call_command("create_token", *arguments, stdout=StringIO())

    assert str(raised.value) == message
    assert not APIToken.objects.exists()


def test_making_and_revoking_a_token_writes_its_key_nowhere(
    anon_client, client, superuser, user, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.DEBUG)
    key = obtain(anon_client, name="ci").json()["token"]
    client.force_login(superuser)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/admin/brain/apitoken/",
            {
                "action": "delete_selected",
                "_selected_action": [APIToken.objects.get().pk],
                "post": "yes",
            },
        )

    assert not APIToken.objects.exists()
    assert key not in "\n".join(str(vars(record)) for record in caplog.records)
    assert key not in str(list(AuditLog.objects.values()))
    assert key not in str(list(LogEntry.objects.values()))
    assert LogEntry.objects.get().object_repr == f"ci {key[:8]}… of alice"


def test_last_use_is_written_at_most_once_per_token_cache_ttl(user):
    client = client_of(token_create(user=user))
    assert client.get("/api/auth/me").status_code == 200
    first_use = APIToken.objects.get().last_used_at
    cache.clear()  # the next request looks the token up again

    assert client.get("/api/auth/me").status_code == 200
    assert APIToken.objects.get().last_used_at == first_use is not None


def test_the_admin_revokes_every_token_of_a_user_at_once(
    client, superuser, user, other_user, django_capture_on_commit_callbacks
):
    keys = [token_create(user=user, name=f"host {n}") for n in range(3)]
    other = token_create(user=other_user)
    assert [client_of(key).get("/api/auth/me").status_code for key in keys] == [200] * 3
    client.force_login(superuser)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/brain/apitoken/",
            {
                "action": "revoke_users_tokens",
                "_selected_action": [APIToken.objects.filter(user=user).first().pk],
            },
        )

    assert response.status_code == 302
    assert [client_of(key).get("/api/auth/me").status_code for key in keys] == [401] * 3
    assert client_of(other).get("/api/auth/me").status_code == 200
    assert list(APIToken.objects.values_list("user", flat=True)) == [other_user.pk]
