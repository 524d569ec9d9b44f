"""The checkpoints' key: AUDIT_SIGNING_KEY as base64 or PEM, else a key generated once in
AUDIT_SIGNING_KEY_FILE; anything else is refused naming where it came from."""

import base64
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.exceptions import ImproperlyConfigured

from audit.signing import (
    key_id,
    public_key_from_text,
    public_key_pem,
    public_key_raw,
    sign,
    signature_valid,
    signing_key,
)

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def raw(private_key):
    return private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def test_without_a_key_one_is_generated_once_readable_by_its_owner_only(settings, tmp_path):
    settings.AUDIT_SIGNING_KEY = ""
    settings.AUDIT_SIGNING_KEY_FILE = tmp_path / "var" / "audit-signing-key"

    first = signing_key()
    second = signing_key()

    assert raw(first) == raw(second)
    path = settings.AUDIT_SIGNING_KEY_FILE
    assert base64.b64decode(path.read_text()) == raw(first)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["audit-signing-key"]


def test_a_key_file_written_by_an_operator_is_read(settings, tmp_path):
    settings.AUDIT_SIGNING_KEY = ""
    settings.AUDIT_SIGNING_KEY_FILE = tmp_path / "key"
    settings.AUDIT_SIGNING_KEY_FILE.write_text(base64.b64encode(raw(KEY)).decode() + "\n")

    assert raw(signing_key()) == raw(KEY)


@pytest.mark.parametrize(
    "written",
    [
        base64.b64encode(raw(KEY)).decode(),
        KEY.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
    ],
    ids=["base64", "pem"],
)
def test_the_environments_key_is_taken_as_base64_or_pem(settings, written):
    settings.AUDIT_SIGNING_KEY = written

    assert raw(signing_key()) == raw(KEY)


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("not base64!", "AUDIT_SIGNING_KEY is not an Ed25519 private key"),
        (base64.b64encode(b"short").decode(), "AUDIT_SIGNING_KEY is not an Ed25519 private key"),
        (
            ec.generate_private_key(ec.SECP256R1())
            .private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            .decode(),
            "AUDIT_SIGNING_KEY is a PEM key, but not an Ed25519 one.",
        ),
    ],
)
def test_a_key_that_is_not_ed25519_is_refused_naming_the_setting(settings, written, message):
    settings.AUDIT_SIGNING_KEY = written

    with pytest.raises(ImproperlyConfigured, match=message):
        signing_key()


def test_a_public_key_is_read_as_base64_or_pem_and_checks_signatures():
    public = KEY.public_key()
    signature = sign(KEY, b"body")

    for written in (base64.b64encode(public_key_raw(public)).decode(), public_key_pem(public)):
        key = public_key_from_text(written)
        assert key_id(key) == key_id(public)
        assert signature_valid(key, b"body", signature)
        assert not signature_valid(key, b"other body", signature)
        assert not signature_valid(key, b"body", "not base64!")
    with pytest.raises(ValueError, match="not an Ed25519 public key"):
        public_key_from_text("AAAA")
