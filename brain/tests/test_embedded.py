"""`make run`'s embedded servers (brain.embedded), started as `make run` starts them: PostgreSQL and
Valkey from their wheels, serving a command, kept on disk between runs, stopped after it."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest
import redis

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# What the command served sees: the URLs, PostgreSQL's version, Redis's PING, and one more run
# counted in each server.
PROBE = """
import json, os, psycopg, redis
with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as connection:
    connection.execute("CREATE TABLE IF NOT EXISTS runs (id serial PRIMARY KEY)")
    connection.execute("INSERT INTO runs DEFAULT VALUES")
    runs = connection.execute("SELECT count(*) FROM runs").fetchone()[0]
    version = connection.execute("SHOW server_version").fetchone()[0]
    trigram = connection.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'"
    ).fetchone()
cache = redis.Redis.from_url(os.environ["REDIS_URL"])
print(json.dumps({
    "database_url": os.environ["DATABASE_URL"],
    "redis_url": os.environ["REDIS_URL"],
    "version": version,
    "pg_trgm": trigram is not None,
    "ping": cache.ping(),
    "runs": [runs, cache.incr("runs")],
}))
"""

# What the command served sees of the URLs only.
URLS_PROBE = """
import json, os
print(json.dumps([os.environ["DATABASE_URL"], os.environ["REDIS_URL"]]))
"""


def serve(data_dir, probe=PROBE, **environment):
    """Runs `probe` under `python -m brain.embedded --data-dir data_dir`, as `make run` runs its
    command, with DATABASE_URL and REDIS_URL unset unless `environment` gives them; returns the
    lines printed before the probe's, and what it printed last, parsed."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    command = [sys.executable, "-c", probe]
    result = subprocess.run(
        [sys.executable, "-m", "brain.embedded", "--data-dir", data_dir, *command],
        cwd=BASE_DIR,
        env={**env, **environment},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    *announced, probed = result.stdout.splitlines()
    return announced, json.loads(probed)


@pytest.fixture
def data_dir():
    # Like var/ in a checkout: a folder others may enter, since as root PostgreSQL runs as a user
    # of its own (pytest's tmp_path is private to its owner).
    directory = Path(tempfile.mkdtemp(prefix="brain-embedded-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory)


def test_make_run_serves_embedded_postgresql_and_valkey_keeps_their_data_and_stops_them(
    data_dir,
):
    announced, first = serve(data_dir)

    assert announced == [
        f"PostgreSQL embedded, data in {data_dir / 'postgres'}: "
        f"DATABASE_URL={first['database_url']}",
        f"Valkey embedded, data in {data_dir / 'redis'}: REDIS_URL={first['redis_url']}",
    ]
    assert first["database_url"].startswith("postgres://postgres@127.0.0.1:")
    assert first["database_url"].endswith("/brain")
    assert first["redis_url"].startswith("redis://127.0.0.1:")
    assert first["version"].startswith("18.")
    assert first["pg_trgm"] is True
    assert first["ping"] is True
    assert first["runs"] == [1, 1]

    again, second = serve(data_dir)

    assert again == announced  # the same servers, on the same ports
    assert second["runs"] == [2, 2]  # on the same data
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(second["database_url"], connect_timeout=2)
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(second["redis_url"], socket_connect_timeout=1).ping()


def test_make_run_uses_the_servers_the_environment_names(data_dir):
    database_url = os.environ["DATABASE_URL"]
    redis_url = os.environ["REDIS_URL"]

    announced, probed = serve(data_dir, URLS_PROBE, DATABASE_URL=database_url, REDIS_URL=redis_url)

    assert announced == []
    assert probed == [database_url, redis_url]
    assert list(data_dir.iterdir()) == []
