"""`manage.py check --deploy` is clean with the production values .env.example documents."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def documented_production_values():
    """The commented-out assignments of .env.example's production block."""
    text = (BASE_DIR / ".env.example").read_text()
    block = text.split("# --- Production", 1)[1]
    return dict(re.findall(r"^# ([A-Z_]+)=(.*)$", block, flags=re.MULTILINE))


def run_check(**environment):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "DEBUG", "ALLOWED_HOSTS"}
    }
    env.update(environment)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )


def test_check_deploy_is_clean_with_the_documented_production_values():
    values = documented_production_values()
    assert {
        "SECURE_HSTS_SECONDS",
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_PROXY_SSL_HEADER",
    } <= set(values)

    result = run_check(
        **values, SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="brain.example"
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_warns_without_them():
    result = run_check(SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="brain.example")

    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout


def test_the_placeholder_secret_key_is_refused():
    result = run_check(SECRET_KEY="change-me")

    assert result.returncode != 0
    assert "SECRET_KEY is still the placeholder of .env.example" in result.stderr
