"""GET /api/audit/checkpoints, /{sequence}, /{sequence}/records and /key: staff only; what a client
gets is enough to check each signature and to prove a record was sealed, without Brain's code."""

import base64
import hashlib
import json
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit.models import AuditCheckpoint, AuditLog
from audit.signing import key_id, public_key_pem, signing_key

from .factories import SystemEventFactory
from .trail import seal_all

pytestmark = pytest.mark.django_db(transaction=True)

PATHS = [
    "/api/audit/checkpoints",
    "/api/audit/checkpoints/1",
    "/api/audit/checkpoints/1/records",
    "/api/audit/checkpoints/key",
]


@pytest.fixture
def sealed(staff_client):
    """Two seal checkpoints: three records (the staff user's token, two events), then one written
    through the API (with a client address, a user agent, a request id and non-ASCII text)."""
    SystemEventFactory.create_batch(2)
    seal_all()
    created = staff_client.post(
        "/api/events",
        {"event_type": "deploy", "severity": "info", "message": "déployé ✓ 1e16"},
        REMOTE_ADDR="203.0.113.7",
        HTTP_USER_AGENT="curl/8.5.0 (ü)",
    )
    assert created.status_code == 201
    seal_all()


def signed_body(checkpoint):
    """What a checkpoint signs, rebuilt from the API's fields as docs/audit.md says."""
    names = [
        "sequence",
        "kind",
        "first_xid",
        "first_record_id",
        "last_xid",
        "last_record_id",
        "record_count",
        "head_hash",
        "previous_hash",
        "newest_record_at",
        "created_at",
        "key_id",
    ]
    return json.dumps(
        {name: checkpoint[name] for name in names}, sort_keys=True, separators=(",", ":")
    ).encode()


def canonical_record(record):
    """A record's canonical form, rebuilt from the API's JSON as docs/audit.md says."""
    moment = datetime.fromisoformat(record["timestamp"]).astimezone(UTC)
    record = {**record, "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@pytest.mark.parametrize("path", PATHS)
def test_anonymous_gets_401_and_non_staff_403(sealed, anon_client, api_client, path):
    assert anon_client.get(path).status_code == 401
    assert api_client.get(path).status_code == 403


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_writes_are_not_allowed(sealed, staff_client, method):
    for path in PATHS:
        assert getattr(staff_client, method)(path, {}).status_code == 405
    assert AuditCheckpoint.objects.count() == 2


def test_the_list_is_oldest_first_with_every_signed_field(sealed, staff_client):
    first, second = AuditCheckpoint.objects.order_by("sequence")

    response = staff_client.get("/api/audit/checkpoints?offset=1")

    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["previous"] is not None, body["next"]) == (2, True, None)
    assert first.sequence == 1
    assert body["results"] == [
        {
            "sequence": 2,
            "kind": "seal",
            "first_xid": second.first_xid,
            "first_record_id": second.first_record_id,
            "last_xid": second.last_xid,
            "last_record_id": second.last_record_id,
            "record_count": 1,
            "head_hash": second.head_hash,
            "previous_hash": hashlib.sha256(
                signed_body(staff_client.get("/api/audit/checkpoints/1").json())
            ).hexdigest(),
            "newest_record_at": second.newest_record_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "created_at": second.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "key_id": key_id(signing_key().public_key()),
            "signature": second.signature,
            "hash": hashlib.sha256(signed_body(body["results"][0])).hexdigest(),
        }
    ]


def test_a_checkpoint_that_does_not_exist_is_404(sealed, staff_client):
    assert staff_client.get("/api/audit/checkpoints/3").status_code == 404
    assert staff_client.get("/api/audit/checkpoints/3/records").status_code == 404


@pytest.mark.parametrize(
    ("path", "known"),
    [
        ("/api/audit/checkpoints", "limit, offset, format"),
        ("/api/audit/checkpoints/1/records", "limit, offset, format"),
        ("/api/audit/checkpoints/key", "format"),
    ],
)
def test_an_unknown_query_parameter_is_a_400_naming_it(sealed, staff_client, path, known):
    response = staff_client.get(f"{path}?sequence=1")

    assert (response.status_code, response.json()) == (
        400,
        {"sequence": [f"Unknown query parameter. Known: {known}."]},
    )


def test_the_published_key_verifies_every_checkpoint(sealed, staff_client):
    public = signing_key().public_key()

    key = staff_client.get("/api/audit/checkpoints/key").json()

    assert key == {
        "algorithm": "Ed25519",
        "key_id": key_id(public),
        "public_key": base64.b64encode(public.public_bytes_raw()).decode(),
        "public_key_pem": public_key_pem(public),
    }
    assert key["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----\n")
    verifier = Ed25519PublicKey.from_public_bytes(base64.b64decode(key["public_key"]))
    for checkpoint in staff_client.get("/api/audit/checkpoints").json()["results"]:
        verifier.verify(base64.b64decode(checkpoint["signature"]), signed_body(checkpoint))


def test_a_client_proves_a_record_was_sealed_by_recomputing_its_range(sealed, staff_client):
    checkpoints = staff_client.get("/api/audit/checkpoints").json()["results"]
    wanted = AuditLog.objects.order_by("id")[1].pk

    response = staff_client.get("/api/audit/checkpoints/1/records")

    assert response.status_code == 200
    records = response.json()["results"]
    ids = [record["id"] for record in records]
    assert (ids[0], ids[-1], len(ids)) == (
        checkpoints[0]["first_record_id"],
        checkpoints[0]["last_record_id"],
        checkpoints[0]["record_count"],
    )
    assert wanted in [record["id"] for record in records]
    head = bytes(32)  # the first checkpoint; later ones start from the previous one's head
    for record in records:
        head = hashlib.sha256(head + hashlib.sha256(canonical_record(record)).digest()).digest()
    assert head.hex() == checkpoints[0]["head_hash"]

    records = staff_client.get("/api/audit/checkpoints/2/records").json()["results"]
    head = bytes.fromhex(checkpoints[0]["head_hash"])
    for record in records:
        head = hashlib.sha256(head + hashlib.sha256(canonical_record(record)).digest()).digest()
    assert head.hex() == checkpoints[1]["head_hash"]
