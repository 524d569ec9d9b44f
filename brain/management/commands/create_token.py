from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from brain.commands import AuditedCommand
from brain.models import TokenScope
from brain.tokens import TOKEN_MAX_SECONDS, token_create
from brain.validators import validate_storable_text


class Command(AuditedCommand):
    help = (
        "Makes a new API token for a user and prints its key, which is shown this once and "
        "stored nowhere (only its SHA-256 is). Audited as system:create_token."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="")
        parser.add_argument("--scope", choices=TokenScope.values, default=TokenScope.FULL)
        parser.add_argument(
            "--expires-in", type=int, help="seconds; default TOKEN_TTL, or no expiry"
        )

    def handle(self, *args, username, name, scope, expires_in, **options):
        most = settings.TOKEN_TTL or TOKEN_MAX_SECONDS
        if expires_in is not None and not 1 <= expires_in <= most:
            raise CommandError(f"--expires-in must be from 1 to {most} seconds.")
        if len(name) > 100:
            raise CommandError("--name must be at most 100 characters.")
        # argv bytes not in UTF-8 come as surrogates, which PostgreSQL cannot take.
        for argument, value in (("username", username), ("--name", name)):
            try:
                validate_storable_text(value)
            except ValidationError as error:
                raise CommandError(f"{argument}: {error.message}") from None
        try:
            user = get_user_model().objects.get_by_natural_key(username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user {username!r}.") from None
        self.stdout.write(token_create(user=user, name=name, scope=scope, expires_in=expires_in))
