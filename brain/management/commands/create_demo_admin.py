import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from audit.commands import AuditedCommand

CREDENTIALS_FILE = settings.VAR_DIR / "demo-credentials.txt"


class Command(AuditedCommand):
    help = (
        "Creates the demo superuser `admin` with a random password and an API token when no "
        "superuser exists, prints them once and writes them to var/demo-credentials.txt. "
        "Does nothing when a superuser exists."
    )

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write(f"A superuser exists; demo credentials, if any: {CREDENTIALS_FILE}")
            return
        password = secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username="admin", email="", password=password)
        token = Token.objects.create(user=user)
        text = (
            f"Brain demo credentials\n"
            f"admin login: http://127.0.0.1:8000/admin/  user: admin  password: {password}\n"
            f"API token:   Authorization: Token {token.key}\n"
        )
        CREDENTIALS_FILE.parent.mkdir(parents=True, exist_ok=True)
        CREDENTIALS_FILE.write_text(text)
        CREDENTIALS_FILE.chmod(0o600)
        self.stdout.write(self.style.SUCCESS(text))
