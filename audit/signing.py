"""The Ed25519 key that signs audit checkpoints. It comes from AUDIT_SIGNING_KEY, else from the
file AUDIT_SIGNING_KEY_FILE (var/audit-signing-key), generated there once when missing; it is
never stored in the database. A key is written as the base64 of its 32 raw bytes, or as PEM
(PKCS #8); a public key as the base64 of its 32 raw bytes, or as PEM (SubjectPublicKeyInfo)."""

import base64
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

ALGORITHM = "Ed25519"


def signing_key() -> Ed25519PrivateKey:
    """The configured private key: AUDIT_SIGNING_KEY, else the key file (created with a new
    random key the first time, readable by its owner only). ImproperlyConfigured when the value
    is not an Ed25519 private key."""
    if settings.AUDIT_SIGNING_KEY:
        return private_key_from_text(settings.AUDIT_SIGNING_KEY, "AUDIT_SIGNING_KEY")
    path = Path(settings.AUDIT_SIGNING_KEY_FILE)
    return private_key_from_text(_key_file_text(path), str(path))


def private_key_from_text(text: str, source: str) -> Ed25519PrivateKey:
    """Reads a private key written as base64 of 32 raw bytes or as PEM; `source` names where it
    came from in the error."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise ImproperlyConfigured(
            f"{source} is not an Ed25519 private key (base64 of 32 raw bytes, or PEM): {error}"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured(f"{source} is a PEM key, but not an Ed25519 one.")
    return key


def public_key_from_text(text: str) -> Ed25519PublicKey:
    """Reads a public key written as base64 of 32 raw bytes or as PEM; ValueError otherwise."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
        else:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise ValueError(f"not an Ed25519 public key: {error}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("a PEM public key, but not an Ed25519 one")
    return key


def public_key_raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def key_id(public_key: Ed25519PublicKey) -> str:
    """The first 16 hex digits of the SHA-256 of the raw public key: names a key in checkpoints
    and messages."""
    return hashlib.sha256(public_key_raw(public_key)).hexdigest()[:16]


def sign(private_key: Ed25519PrivateKey, message: bytes) -> str:
    """The base64 Ed25519 signature of `message`."""
    return base64.b64encode(private_key.sign(message)).decode()


def signature_valid(public_key: Ed25519PublicKey, message: bytes, signature: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _key_file_text(path: Path) -> str:
    """The key file's text, after writing a new key to it if there is none. Concurrent first
    calls agree on one key: each writes its own temporary file and links it into place, and a
    link that finds the file there already leaves it alone."""
    try:
        return path.read_text()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
    finally:
        temporary.unlink()
    return path.read_text()
