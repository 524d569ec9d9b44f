"""A second Brain server on an address where one already listens: it refuses to start, in one
line, and the first goes on serving alone."""

import subprocess

import pytest
from django.conf import settings

from tests.support import server_environment

from .conftest import GUNICORN, database_url, redis_url

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_second_server_on_the_same_port_exits_with_address_already_in_use(serve):
    first = serve()

    second = subprocess.run(
        [*GUNICORN, "--config", "brain/gunicorn.conf.py"],
        cwd=settings.BASE_DIR,
        env=server_environment(
            DATABASE_URL=database_url(),
            REDIS_URL=redis_url(),
            HOST="127.0.0.1",
            PORT=str(first.port),
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert second.returncode == 1
    assert f"Error: Cannot listen at 127.0.0.1:{first.port}: Address already in use." in (
        second.stderr
    )
    assert "Booting worker" not in second.stderr
    assert first.request("GET", "/health/live").status == 200


def test_the_server_log_names_the_address_it_listens_at(serve):
    server = serve()

    assert f"Listening at: http://127.0.0.1:{server.port} (" in server.log()
