"""Settings are read from the environment; each case runs in a fresh interpreter."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent.parent
SERVERS = {
    "DATABASE_URL": "postgres://u:p@db.example:5433/brain",
    "REDIS_URL": "redis://127.0.0.1:6379/3",
}

PROBE = """
import json
from django.conf import settings
import django
django.setup()
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]),
    "pool": {
        name: f"{value.__module__}.{value.__qualname__}" if callable(value) else value
        for name, value in (db.get("OPTIONS", {}).get("pool") or {}).items()
    } or None,
    "health_checks": db.get("CONN_HEALTH_CHECKS"),
    "connect_timeout": db.get("OPTIONS", {}).get("connect_timeout"),
    "cache": settings.CACHES["default"]["BACKEND"],
    "cache_prefix": settings.CACHES["default"].get("KEY_PREFIX"),
    "ignore_exceptions": settings.CACHES["default"].get("OPTIONS", {}).get("IGNORE_EXCEPTIONS"),
    "debug": settings.DEBUG, "allowed_hosts": settings.ALLOWED_HOSTS,
    "trusted_proxies": settings.TRUSTED_PROXY_COUNT,
}))
"""


REPLICAS_PROBE = """
import json
from django.conf import settings
import django
django.setup()
print(json.dumps({
    "replicas": settings.DATABASE_REPLICAS,
    "databases": {
        alias: {
            "host": db["HOST"],
            "pool_max_size": db["OPTIONS"]["pool"]["max_size"],
            "options": {name: value for name, value in db["OPTIONS"].items() if name != "pool"},
            "health_checks": db["CONN_HEALTH_CHECKS"],
            "mirror": db.get("TEST", {}).get("MIRROR"),
        }
        for alias, db in settings.DATABASES.items()
    },
}))
"""


def environment_with(**environment):
    """This process's environment with SERVERS and `environment` (None: unset)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"}
    }
    env.update({"DJANGO_SETTINGS_MODULE": "brain.settings.base", **SERVERS, **environment})
    return {key: value for key, value in env.items() if value is not None}


def manage(*arguments, **environment):
    """Runs manage.py with `arguments` in a fresh interpreter, with SERVERS and `environment`."""
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=BASE_DIR,
        env=environment_with(**environment),
        capture_output=True,
        text=True,
    )


def load_settings(probe=PROBE, **environment):
    """Loads the settings in a fresh interpreter with SERVERS and `environment` (None: unset), and
    prints what `probe` prints."""
    return subprocess.run(
        [sys.executable, "-c", probe],
        cwd=BASE_DIR,
        env=environment_with(**environment),
        capture_output=True,
        text=True,
    )


def test_database_url_is_required():
    result = load_settings(SECRET_KEY="k", DATABASE_URL=None)

    assert result.returncode != 0
    assert "DATABASE_URL is required: the URL of a PostgreSQL database" in result.stderr
    assert "`make run` sets it to a server embedded from a pip wheel" in result.stderr


def test_database_url_of_another_database_is_refused():
    result = load_settings(SECRET_KEY="k", DATABASE_URL="mysql://u:p@db.example:3306/brain")

    assert result.returncode != 0
    assert "DATABASE_URL must be a PostgreSQL URL: postgres://user:password@host:5432/brain." in (
        result.stderr
    )


@pytest.mark.parametrize(
    "url", ["bogus", "postgres://u@db.example:notaport/brain", "postgres://u@db.example:99999/b"]
)
def test_a_database_url_that_is_no_url_or_has_no_port_number_is_refused(url):
    result = load_settings(SECRET_KEY="k", DATABASE_URL=url)

    assert result.returncode != 0
    assert result.stderr.endswith(
        "ImproperlyConfigured: DATABASE_URL must be a PostgreSQL URL: "
        "postgres://user:password@host:5432/brain.\n"
    )


@pytest.mark.parametrize("url", ["bogus", "http://cache.example/0", "redis://cache.example:x/0"])
def test_a_redis_url_that_is_no_redis_url_is_refused(url):
    result = load_settings(SECRET_KEY="k", REDIS_URL=url)

    assert result.returncode != 0
    assert result.stderr.endswith(
        "ImproperlyConfigured: REDIS_URL must be a Redis URL: redis://host:6379/0 "
        "(rediss:// for TLS).\n"
    )


def test_manage_py_reports_a_configuration_error_in_one_line_on_stderr():
    result = manage("check_services", SECRET_KEY="k", REDIS_URL="bogus")

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "Configuration error: REDIS_URL must be a Redis URL: redis://host:6379/0 "
        "(rediss:// for TLS).\n"
    )


def test_manage_py_reports_a_settings_error_of_its_own_in_one_line_on_stderr():
    result = manage("check", SECRET_KEY="k", TASKS_MAX_PER_USER="0")

    assert result.returncode == 1
    assert result.stderr == (
        "Configuration error: TASKS_MAX_PER_USER must be an integer from 1 to 2147483647; got 0.\n"
    )


def test_manage_py_takes_the_settings_module_its_settings_option_names():
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.SETTINGS_MODULE)",
        "--settings=brain.settings.test",
        SECRET_KEY="k",
    )

    assert (result.returncode, result.stdout) == (0, "brain.settings.test\n")


def test_replicas_get_the_primarys_pool_and_timeouts_and_mirror_it_in_tests():
    result = load_settings(
        REPLICAS_PROBE,
        SECRET_KEY="k",
        DATABASE_REPLICA_URLS="postgres://u:p@r1.example/brain,postgres://u:p@r2.example/brain",
        DATABASE_POOL_MAX_SIZE="7",
        DATABASE_STATEMENT_TIMEOUT="30",
    )

    loaded = json.loads(result.stdout)
    assert loaded["replicas"] == ["replica1", "replica2"]
    expected = {
        "pool_max_size": 7,
        "options": {"connect_timeout": 2, "options": "-c statement_timeout=30000"},
        "health_checks": True,
    }
    assert loaded["databases"] == {
        "default": {"host": "db.example", **expected, "mirror": None},
        "replica1": {"host": "r1.example", **expected, "mirror": "default"},
        "replica2": {"host": "r2.example", **expected, "mirror": "default"},
    }


def test_a_replica_url_of_another_database_is_refused():
    result = load_settings(
        SECRET_KEY="k", DATABASE_REPLICA_URLS="mysql://u:p@r1.example:3306/brain"
    )

    assert result.returncode != 0
    assert "Each of DATABASE_REPLICA_URLS must be a PostgreSQL URL" in result.stderr


def test_redis_url_is_required():
    result = load_settings(SECRET_KEY="k", REDIS_URL=None)

    assert result.returncode != 0
    assert "REDIS_URL is required: the URL of a Redis database" in result.stderr


@pytest.mark.parametrize("scheme", ["postgresql", "pgsql", "psql"])
def test_every_scheme_django_environ_reads_as_postgresql_is_taken(scheme):
    result = load_settings(SECRET_KEY="k", DATABASE_URL=f"{scheme}://u:p@db.example:5433/brain")

    assert json.loads(result.stdout)["engine"] == "django.db.backends.postgresql"


def test_postgres_url_uses_brains_backend_with_psycopg_pool_and_health_checks():
    result = load_settings(SECRET_KEY="k")

    loaded = json.loads(result.stdout)
    assert loaded["debug"] is False
    assert loaded["engine"] == "django.db.backends.postgresql"
    assert loaded["name"] == "brain"
    assert loaded["pool"] == {
        "min_size": 1,
        "max_size": 10,
        "timeout": 1.5,
        "reconnect_timeout": 1.0,
        "check": "brain.db.pool.check_connection",
    }
    assert loaded["connect_timeout"] == 2
    assert loaded["health_checks"] is True


def test_redis_url_uses_django_redis_with_prefix_and_ignores_outages():
    result = load_settings(SECRET_KEY="k")

    loaded = json.loads(result.stdout)
    assert loaded["cache"] == "django_redis.cache.RedisCache"
    assert loaded["cache_prefix"] == "brain"
    assert loaded["ignore_exceptions"] is True


def test_lists_and_integers_are_parsed():
    result = load_settings(
        SECRET_KEY="k", ALLOWED_HOSTS="a.example,b.example", TRUSTED_PROXY_COUNT="2"
    )

    loaded = json.loads(result.stdout)
    assert loaded["allowed_hosts"] == ["a.example", "b.example"]
    assert loaded["trusted_proxies"] == 2


def test_secret_key_is_required_without_debug(tmp_path):
    result = load_settings(SECRET_KEY_FILE=str(tmp_path / "missing"))

    assert result.returncode != 0
    assert "SECRET_KEY is required when DEBUG is off" in result.stderr


def test_secret_key_is_read_from_the_key_file_when_unset(tmp_path):
    key_file = tmp_path / "secret-key"
    key_file.write_text("key-from-the-file\n")
    probe = "import django; django.setup(); from django.conf import settings; "
    probe += "print(settings.SECRET_KEY)"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="brain.settings.base", SECRET_KEY_FILE=str(key_file), **SERVERS
    )

    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == "key-from-the-file\n"


def test_debug_runs_without_secret_key():
    result = load_settings(DEBUG="1")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["debug"] is True


def test_the_event_time_window_is_refused_outside_what_datetime_can_compute():
    too_far = load_settings(SECRET_KEY="k", EVENT_TIME_MAX_AGE_DAYS="36501")
    negative = load_settings(SECRET_KEY="k", EVENT_TIME_MAX_DRIFT_SECONDS="-1")

    assert too_far.returncode != 0
    assert "EVENT_TIME_MAX_AGE_DAYS must be an integer from 1 to 36500; got 36501." in (
        too_far.stderr
    )
    assert negative.returncode != 0
    assert "EVENT_TIME_MAX_DRIFT_SECONDS must be an integer from 0 to 86400; got -1." in (
        negative.stderr
    )


def test_a_sentinel_address_without_a_port_is_refused_naming_the_variable():
    result = load_settings(SECRET_KEY="k", REDIS_SENTINELS="10.0.0.1:26379,10.0.0.2")

    assert result.returncode != 0
    assert "REDIS_SENTINELS: '10.0.0.2' is not host:port" in result.stderr
