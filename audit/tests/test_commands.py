"""Bad arguments of the audit commands are a CommandError naming the argument, never a
traceback."""

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditVerification

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("since", "message"),
    [
        (
            "²",
            "--since: '²' is neither a checkpoint number (1 or more) nor a time with its offset "
            "(2026-01-02T00:00:00Z).",
        ),
        (
            "0001-01-01T00:00:00+14:00",
            "--since: '0001-01-01T00:00:00+14:00' is a time before year 1 or after 9999 in UTC.",
        ),
        (
            "9999-12-31T23:59:59-14:00",
            "--since: '9999-12-31T23:59:59-14:00' is a time before year 1 or after 9999 in UTC.",
        ),
    ],
)
def test_verify_audit_refuses_a_since_it_cannot_read(since, message):
    with pytest.raises(CommandError) as raised:
        call_command("verify_audit", "--since", since, "--jobs", "1")

    assert str(raised.value) == message
    assert not AuditVerification.objects.exists()


def test_verify_audit_refuses_a_public_key_file_that_is_not_text(tmp_path):
    key = tmp_path / "key.pub"
    key.write_bytes(b"\xff\xfe not text")

    with pytest.raises(CommandError) as raised:
        call_command("verify_audit", "--public-key", str(key), "--jobs", "1")

    assert str(raised.value) == f"--public-key: {key} is not UTF-8 text (base64 or PEM)."
    assert not AuditVerification.objects.exists()


@pytest.mark.parametrize("jobs", ["33", "99999999999999999999"])
def test_verify_audit_refuses_more_jobs_than_it_may_start(jobs):
    with pytest.raises(CommandError) as raised:
        call_command("verify_audit", "--jobs", jobs)

    assert str(raised.value) == f"--jobs: {jobs} is not a number of processes (1 to 32)."
    assert not AuditVerification.objects.exists()
