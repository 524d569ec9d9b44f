import os
from datetime import UTC
from pathlib import Path

from django.core.management.base import CommandError
from django.utils.dateparse import parse_datetime

from audit.signing import public_key_from_text
from audit.verification import NothingSince, audit_verification_record, audit_verify
from audit.verify_process import ProcessFailed
from brain.commands import MAX_JOBS, AuditedCommand


class Command(AuditedCommand):
    help = (
        "Recomputes the audit log's hash chain from the records and checks every checkpoint's "
        "signature; exits with status 1 naming the first record or checkpoint that does not "
        "match. Keeps the outcome for the console."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since",
            help=(
                "from this checkpoint (its sequence number) or from the first checkpoint created "
                "at or after this time (ISO 8601 with its offset, e.g. 2026-01-02T00:00:00Z)"
            ),
        )
        parser.add_argument(
            "--public-key",
            help=(
                "verify with this public key (base64 of its 32 raw bytes, PEM, or a file holding "
                "either) instead of the configured signing key's"
            ),
        )

        parser.add_argument(
            "--jobs",
            type=int,
            default=min(os.process_cpu_count() or 1, MAX_JOBS),
            help=(
                "processes recomputing the chain over the records, each on a connection of its "
                "own (default: the CPUs this process may use; 1: in this process)"
            ),
        )

    def handle(self, *args, since, public_key, jobs, **options):
        if not 1 <= jobs <= MAX_JOBS:
            raise CommandError(f"--jobs: {jobs} is not a number of processes (1 to {MAX_JOBS}).")
        try:
            result = audit_verify(
                since=_since(since), public_key=_public_key(public_key), jobs=jobs
            )
        except NothingSince as error:
            raise CommandError(
                f"--since {since}: no checkpoint at or after it ({error})."
            ) from None
        except ProcessFailed as error:
            raise CommandError(
                f"Audit log not verified: {error}; --jobs 1 verifies in this process."
            ) from None
        audit_verification_record(result)
        if not result.ok:
            raise CommandError(f"Audit log verification failed: {result.failure}")
        if result.through is None:
            self.stdout.write(f"No checkpoint yet: {_records(result.unsealed)} not sealed.")
            return
        self.stdout.write(
            f"Verified {result.checkpoints} checkpoints and {result.records} records, through "
            f"checkpoint {result.through.sequence} ({result.through.created_at.isoformat()}); "
            f"{_records(result.unsealed)} not sealed yet."
        )


def _records(count):
    return f"{count} record" if count == 1 else f"{count} records"


def _since(text):
    if text is None:
        return None
    # str.isdigit() takes "²", which int() refuses.
    if text.isascii() and text.isdigit() and int(text) >= 1:
        return int(text)
    moment = None
    try:
        moment = parse_datetime(text)
    except ValueError:
        pass
    if moment is None or moment.tzinfo is None:
        raise CommandError(
            f"--since: {text!r} is neither a checkpoint number (1 or more) nor a time with its "
            "offset (2026-01-02T00:00:00Z)."
        )
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # year 1 at +14:00, or 9999 at -14:00
        raise CommandError(
            f"--since: {text!r} is a time before year 1 or after 9999 in UTC."
        ) from None


def _public_key(text):
    if text is None:
        return None
    path = Path(text)
    if not text.startswith("-----BEGIN") and path.is_file():
        try:
            text = path.read_text()
        except OSError as error:
            raise CommandError(f"--public-key: cannot read {text}: {error.strerror}.") from None
        except UnicodeDecodeError:
            raise CommandError(f"--public-key: {text} is not UTF-8 text (base64 or PEM).") from None
    try:
        return public_key_from_text(text)
    except ValueError as error:
        raise CommandError(f"--public-key: {error}.") from None
