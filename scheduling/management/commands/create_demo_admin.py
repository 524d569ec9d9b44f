import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.db import transaction

from brain.commands import AuditedCommand
from brain.tokens import token_create

from .seed import USERS as DEMO_USERS


def served_address():
    """The address `make run`'s gunicorn serves on (HOST and PORT, as brain/gunicorn.conf.py
    reads them); a wildcard host is shown as the loopback address a browser can open."""
    host = os.environ.get("HOST", "127.0.0.1")
    if host in {"0.0.0.0", "::", "[::]", ""}:
        host = "127.0.0.1"
    return f"http://{host}:{os.environ.get('PORT', '8000')}"


class Command(AuditedCommand):
    help = (
        "Creates the demo superuser `admin` with a random password and an API token, and the "
        "demo users of `seed` (not staff) with random passwords, when no superuser exists; "
        "prints them once and writes them to var/demo-credentials.txt. Does nothing when a "
        "superuser exists."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--credentials-file", type=Path, default=settings.VAR_DIR / "demo-credentials.txt"
        )

    def handle(self, *args, credentials_file, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write(f"A superuser exists; demo credentials, if any: {credentials_file}")
            return
        # The users are kept only once their passwords are written down: a file that cannot be
        # written leaves no superuser whose password nobody saw.
        with transaction.atomic():
            address = served_address()
            password = secrets.token_urlsafe(12)
            user = User.objects.create_superuser(username="admin", email="", password=password)
            key = token_create(user=user, name="demo admin")
            lines = [
                "Brain demo credentials",
                f"admin login: {address}/admin/  user: admin  password: {password}",
                f"API token:   Authorization: Token {key}",
                f"Demo users (not staff: through the API, each sees only their own projects and "
                f"tasks; a token from POST {address}/api/auth/token):",
            ]
            for username in DEMO_USERS:
                demo_password = secrets.token_urlsafe(12)
                demo_user, _ = User.objects.get_or_create(username=username)
                demo_user.set_password(demo_password)
                demo_user.save(update_fields=["password"])
                lines.append(f"  user: {username}  password: {demo_password}")
            text = "\n".join(lines) + "\n"
            try:
                credentials_file.parent.mkdir(parents=True, exist_ok=True)
                credentials_file.write_text(text)
                credentials_file.chmod(0o600)
            except OSError as error:
                raise CommandError(
                    f"Cannot write {credentials_file}: {error.strerror}. No user was created."
                ) from None
        self.stdout.write(self.style.SUCCESS(text))
