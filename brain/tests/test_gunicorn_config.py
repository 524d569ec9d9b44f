"""brain/gunicorn.conf.py refuses a configuration it cannot serve in one line on stderr, before
any worker starts."""

import subprocess
import sys

import pytest

from brain.tests.test_settings import BASE_DIR, environment_with
from tests.support import free_port


def gunicorn(**environment):
    return subprocess.run(
        [sys.executable, "-m", "gunicorn", "--config", "brain/gunicorn.conf.py"],
        cwd=BASE_DIR,
        env=environment_with(**{"SECRET_KEY": "k", "HOST": "127.0.0.1", **environment}),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PORT", "x", "PORT must be a whole number from 1 to 65535, not 'x'."),
        ("PORT", "70000", "PORT must be a whole number from 1 to 65535, not '70000'."),
        ("PORT", "²", "PORT must be a whole number from 1 to 65535, not '²'."),
        ("WEB_CONCURRENCY", "0", "WEB_CONCURRENCY must be a whole number from 1 or more, not '0'."),
        ("WEB_THREADS", "many", "WEB_THREADS must be a whole number from 1 or more, not 'many'."),
    ],
)
def test_a_server_setting_that_is_no_number_in_range_stops_the_start_in_one_line(
    name, value, message
):
    result = gunicorn(**{"PORT": "8000", name: value})

    assert result.returncode == 1
    assert result.stderr == message + "\n"


def test_a_configuration_error_of_the_settings_stops_the_start_in_one_line():
    result = gunicorn(PORT=str(free_port()), DATABASE_URL="bogus")

    assert result.returncode == 1
    assert (
        "\nError: Configuration error: DATABASE_URL must be a PostgreSQL URL: "
        "postgres://user:password@host:5432/brain.\n"
    ) in result.stderr
    assert "Traceback" not in result.stderr
    assert "Booting worker" not in result.stderr


def test_a_host_that_is_no_address_of_this_machine_stops_the_start_in_one_line():
    result = gunicorn(HOST="192.0.2.1", PORT=str(free_port()))

    assert result.returncode == 1
    assert "\nError: Cannot listen at 192.0.2.1:" in result.stderr
    assert ": Cannot assign requested address.\n" in result.stderr
    assert "Traceback" not in result.stderr
