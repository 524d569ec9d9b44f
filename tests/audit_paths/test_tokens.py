"""API tokens: making one (the API, create_token), revoking one or all of a user's (the API, the
admin), purging expired ones (purge_tokens, the tokens.purge skill) record one row per token in
the write's transaction, naming who and from where, with the token's name, prefix, scope, expiry
and user, never its key or digest; using a token (its last use) records nothing."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditLog
from brain.models import APIToken
from brain.tokens import token_create
from scheduling.skills import get_skill
from tests.audit_paths.support import (
    audit_mark,
    client_meta,
    encoded,
    from_request,
    from_system,
    origins_after,
    records_after,
)

pytestmark = pytest.mark.django_db

# What a token's record holds: neither its digest nor its last use.
RECORDED = ["prefix", "user_id", "name", "scope", "created_at", "expires_at"]
LOGIN = {"username": "alice", "password": "alice-password-1"}


def recorded(token):
    """The token's recorded fields as the database holds them now, encoded."""
    row = APIToken.objects.filter(pk=token.pk).values(*RECORDED).get()
    return {name: encoded(row[name]) for name in RECORDED}


def token_of(key):
    return APIToken.objects.get(prefix=key[:8])


def client_of(key, request_id):
    client = APIClient(**client_meta(request_id))
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def assert_no_secret(keys, tokens):
    """None of the keys, nor the digests of `tokens`, is in any audit record."""
    records = json.dumps([log.changed_fields for log in AuditLog.objects.all()])
    for secret in [*keys, *(token.digest for token in tokens)]:
        assert secret not in records


def test_a_token_made_by_the_api_records_its_create_as_its_user_from_the_client(anon_client, user):
    mark = audit_mark()

    response = anon_client.post(
        "/api/auth/token",
        {**LOGIN, "name": "ci", "scope": "read", "expires_in": 3600},
        format="json",
        **client_meta("req-token-create"),
    )

    assert response.status_code == 200
    key = response.json()["token"]
    token = token_of(key)
    assert records_after(mark) == [("CREATE", "api_tokens", str(token.pk), recorded(token))]
    assert recorded(token) == {
        "prefix": key[:8],
        "user_id": user.pk,
        "name": "ci",
        "scope": "read",
        "created_at": encoded(token.created_at),
        "expires_at": encoded(token.expires_at),
    }
    assert token.expires_at > token.created_at
    assert origins_after(mark) == [from_request(user, response)]
    assert_no_secret([key], [token])


def test_refused_credentials_make_no_token_and_no_record(anon_client, user):
    mark = audit_mark()

    response = anon_client.post("/api/auth/token", {**LOGIN, "password": "wrong"}, format="json")

    assert response.status_code == 400
    assert not APIToken.objects.exists()
    assert records_after(mark) == []


def test_create_token_records_its_create_as_the_command(user):
    mark = audit_mark()
    out = StringIO()

    call_command("create_token", "alice", "--name", "deploy", "--expires-in", "60", stdout=out)

    key = out.getvalue().strip()
    token = token_of(key)
    assert records_after(mark) == [("CREATE", "api_tokens", str(token.pk), recorded(token))]
    assert (recorded(token)["name"], recorded(token)["user_id"]) == ("deploy", user.pk)
    assert origins_after(mark) == [from_system("system:create_token")]
    assert_no_secret([key], [token])


def test_revoking_the_requests_token_records_its_delete_as_its_user_from_the_client(
    user, django_capture_on_commit_callbacks
):
    key, kept = token_create(user=user, name="laptop"), token_create(user=user)
    token = token_of(key)
    last = recorded(token)
    mark = audit_mark()

    with django_capture_on_commit_callbacks(execute=True):
        response = client_of(key, "req-token-revoke").delete("/api/auth/token")

    assert response.status_code == 204
    assert records_after(mark) == [("DELETE", "api_tokens", str(token.pk), last)]
    assert origins_after(mark) == [from_request(user, response)]
    assert list(APIToken.objects.all()) == [token_of(kept)]
    assert_no_secret([key, kept], [token, token_of(kept)])


def test_revoking_every_token_records_a_delete_per_token_of_the_user_only(
    user, other_user, django_capture_on_commit_callbacks
):
    keys = [token_create(user=user, name=f"host {n}") for n in range(3)]
    other = token_create(user=other_user)
    tokens = [token_of(key) for key in keys]
    last = {str(token.pk): recorded(token) for token in tokens}
    mark = audit_mark()

    with django_capture_on_commit_callbacks(execute=True):
        response = client_of(keys[0], "req-token-revoke-all").delete("/api/auth/tokens")

    assert response.status_code == 204
    assert sorted(records_after(mark), key=lambda record: int(record[2])) == [
        ("DELETE", "api_tokens", pk, values)
        for pk, values in sorted(last.items(), key=lambda item: int(item[0]))
    ]
    assert origins_after(mark) == [from_request(user, response)] * 3
    assert list(APIToken.objects.all()) == [token_of(other)]
    assert_no_secret([*keys, other], tokens)


def test_the_admins_revocation_records_a_delete_per_token_as_the_staff_user(
    admin_session, superuser, user, django_capture_on_commit_callbacks
):
    keys = [token_create(user=user, name=f"host {n}") for n in range(2)]
    tokens = [token_of(key) for key in keys]
    last = [recorded(token) for token in tokens]
    mark = audit_mark()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_session.post(
            "/admin/brain/apitoken/",
            {"action": "revoke_users_tokens", "_selected_action": [tokens[0].pk]},
        )

    assert response.status_code == 302
    assert not APIToken.objects.exists()
    assert sorted(records_after(mark), key=lambda record: int(record[2])) == [
        ("DELETE", "api_tokens", str(token.pk), values)
        for token, values in zip(tokens, last, strict=True)
    ]
    assert {origin[0] for origin in origins_after(mark)} == {str(superuser.pk)}


def test_deleting_a_user_records_the_delete_of_their_tokens(
    user, django_capture_on_commit_callbacks
):
    token = token_of(token_create(user=user))
    last = recorded(token)
    mark = audit_mark()

    with django_capture_on_commit_callbacks(execute=True):
        user.delete()

    assert records_after(mark) == [("DELETE", "api_tokens", str(token.pk), last)]


def expired_tokens(user):
    """Tokens of `user` named by when they expire(d): 10 days ago, 2 days ago, in a day, never."""
    now = timezone.now()
    expiries = {
        "10 days ago": now - timedelta(days=10),
        "2 days ago": now - timedelta(days=2),
        "tomorrow": now + timedelta(days=1),
        "never": None,
    }
    for name in expiries:
        token_create(user=user, name=name)
    for name, expires_at in expiries.items():
        APIToken.objects.filter(name=name).update(expires_at=expires_at)
    return {token.name: token for token in APIToken.objects.all()}


def test_purge_tokens_deletes_tokens_expired_for_longer_than_asked_as_the_command(
    user, django_capture_on_commit_callbacks
):
    tokens = expired_tokens(user)
    last = recorded(tokens["10 days ago"])
    mark = audit_mark()
    out = StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("purge_tokens", expired_for="7d", verbosity=0, stdout=out)

    assert sorted(APIToken.objects.values_list("name", flat=True)) == [
        "2 days ago",
        "never",
        "tomorrow",
    ]
    assert records_after(mark) == [("DELETE", "api_tokens", str(tokens["10 days ago"].pk), last)]
    assert origins_after(mark) == [from_system("system:purge_tokens")]
    assert out.getvalue().startswith("Deleted 1 API tokens expired before ")


def test_purge_tokens_dry_run_counts_and_deletes_nothing(user):
    expired_tokens(user)
    mark = audit_mark()
    out = StringIO()

    call_command("purge_tokens", "--dry-run", expired_for="7d", stdout=out)

    assert out.getvalue().startswith("Would delete 1 API tokens expired before ")
    assert APIToken.objects.filter(user=user).count() == 4
    assert records_after(mark) == []


def test_purge_tokens_at_once_deletes_every_expired_token_in_batches(
    user, django_capture_on_commit_callbacks
):
    tokens = expired_tokens(user)
    last = {name: recorded(token) for name, token in tokens.items()}
    mark = audit_mark()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("purge_tokens", expired_for="0d", batch_size=1, verbosity=0)

    assert sorted(APIToken.objects.values_list("name", flat=True)) == ["never", "tomorrow"]
    assert sorted(records_after(mark)) == sorted(
        ("DELETE", "api_tokens", str(tokens[name].pk), last[name])
        for name in ("10 days ago", "2 days ago")
    )


@pytest.mark.parametrize("value", ["7", "d", "1w"])
def test_purge_tokens_refuses_a_bad_age(user, value):
    expired_tokens(user)

    with pytest.raises(CommandError, match="is not an age like"):
        call_command("purge_tokens", expired_for=value, verbosity=0)

    assert APIToken.objects.count() == 4


def test_the_tokens_purge_skill_deletes_expired_tokens_and_keeps_the_others(user):
    tokens = expired_tokens(user)

    output = get_skill("tokens.purge").function({"expired_for_days": 1})

    assert sorted(APIToken.objects.values_list("name", flat=True)) == ["never", "tomorrow"]
    assert output.startswith("Deleted 2 API tokens expired before ")
    deleted = AuditLog.objects.filter(operation="DELETE").values_list("record_id", flat=True)
    assert sorted(deleted) == sorted(str(tokens[name].pk) for name in ("10 days ago", "2 days ago"))


def test_using_a_token_records_nothing_though_its_last_use_is_written(user):
    key = token_create(user=user)
    mark = audit_mark()

    response = client_of(key, "req-token-use").get("/api/auth/me")

    assert response.status_code == 200
    assert token_of(key).last_used_at is not None
    assert records_after(mark) == []


def test_a_change_of_a_token_records_only_what_changed(user):
    token = token_of(token_create(user=user, name="ci"))
    mark = audit_mark()

    token.scope, token.name = "read", "ci"
    token.save()
    token.save()

    assert records_after(mark) == [
        ("UPDATE", "api_tokens", str(token.pk), {"scope": {"old": "full", "new": "read"}})
    ]


@pytest.mark.django_db(transaction=True)
def test_in_autocommit_a_token_whose_record_fails_is_not_made(user):
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE audit_logs ADD CONSTRAINT test_refuse_tokens "
            "CHECK (table_name <> 'api_tokens')"
        )
    try:
        with pytest.raises(IntegrityError):
            APIToken.objects.create(digest="0" * 64, prefix="00000000", user=user)
        with pytest.raises(IntegrityError):
            token_create(user=user)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE audit_logs DROP CONSTRAINT test_refuse_tokens")

    assert not APIToken.objects.exists()


def test_a_rolled_back_token_leaves_no_record(user):
    mark = audit_mark()

    with pytest.raises(RuntimeError), transaction.atomic():
        token_create(user=user)
        raise RuntimeError

    assert not APIToken.objects.exists()
    assert records_after(mark) == []


@pytest.mark.parametrize("batch_size", ["0", "1000001", "99999999999999999999"])
def test_purge_tokens_refuses_a_batch_size_beyond_its_bounds(user, batch_size):
    expired_tokens(user)

    with pytest.raises(CommandError) as raised:
        call_command("purge_tokens", "--expired-for", "1d", "--batch-size", batch_size)

    assert str(raised.value) == "--batch-size must be from 1 to 1,000,000."
    assert APIToken.objects.count() == 4
