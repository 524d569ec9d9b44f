"""gunicorn configuration: where to listen and how many workers, from the environment. Each
worker is gunicorn's own ASGI worker serving brain.asgi: HTTP (through Django's WSGI handler, on
WEB_THREADS threads per worker) and the WebSockets (/ws/events) on the same port."""

import os
import socket
import sys


def _whole_number(name, default, least=1, most=None):
    """The environment's whole number `name`; outside least..most the server does not start, and
    says why in one line."""
    value = os.environ.get(name, default)
    if not (
        value.isascii()
        and value.isdigit()
        and int(value) >= least
        and (most is None or int(value) <= most)
    ):
        upto = f" to {most}" if most is not None else " or more"
        sys.exit(f"{name} must be a whole number from {least}{upto}, not {value!r}.")
    return int(value)


bind = f"{os.environ.get('HOST', '127.0.0.1')}:{_whole_number('PORT', '8000', most=65535)}"
workers = _whole_number("WEB_CONCURRENCY", "2")
_whole_number("WEB_THREADS", "4")  # threads per worker, read by brain.asgi
worker_class = "asgi"
wsgi_app = "brain.asgi:application"
# Each worker listens on a socket of its own (SO_REUSEPORT), and the kernel spreads new connections
# over them. On one shared socket, the worker whose event loop wakes first accepts every pending
# connection at once (asyncio accepts up to its backlog per wake-up; this worker class has no
# per-worker connection limit), so a client's keep-alive connections could all land on one worker
# while the other idled. Since every socket on the port sets SO_REUSEPORT, a second server on the
# same address would bind too and share the traffic: on_starting refuses to start then.
reuse_port = True
# Brain uses no control interface; gunicorn's default socket (~/.gunicorn) would be shared by
# every server one user runs.
control_socket_disable = True
# Channels' router takes no lifespan messages; Brain has no start-up hook of its own there.
asgi_lifespan = "off"
# One JSON line per request comes from RequestLogMiddleware; gunicorn's access log would
# double it.
accesslog = None
errorlog = "-"
graceful_timeout = 30
timeout = 60
# The web server's statements end well before a worker's timeout (brain.settings: a request
# PostgreSQL cancels answers 503); commands run without one unless the environment sets it.
os.environ.setdefault("DATABASE_STATEMENT_TIMEOUT", str(timeout // 2))


def on_starting(server):
    """Stops the start in one line when the address cannot be listened at: "Address already in
    use" where something listens already, a Brain server among them, which SO_REUSEPORT would
    let this one's workers join. A socket without SO_REUSEPORT cannot bind where one listens."""
    host, port = bind.rsplit(":", 1)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR: connections of an earlier server in TIME_WAIT do not count as in use.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), int(port)))
        except OSError as error:  # in use, or a HOST that is no address of this machine
            raise RuntimeError(f"Cannot listen at {bind}: {error.strerror}.") from None


def when_ready(server):
    """Sends brain.signals.server_started, once per start (the master, before it forks workers).
    Logs the address served, which gunicorn's own "Listening at" line leaves empty under
    reuse_port: the master holds no socket then, each worker opens its own."""
    server.log.info("Listening at: http://%s (%s), a socket per worker", bind, server.pid)
    _in_master(
        lambda signals: signals.server_started.send_robust(sender=None, bind=bind, workers=workers)
    )


def on_exit(server):
    """Sends brain.signals.server_stopped, once per stop (the master, after its workers exited)."""
    _in_master(lambda signals: signals.server_stopped.send_robust(sender=None, bind=bind))


def _in_master(send):
    """Sets Django up in the master process (the apps connect their receivers), runs
    `send(brain.signals)`, then closes the master's database connections and pools, so no worker
    inherits them through fork. A receiver's failure is logged (Signal.send_robust), never fatal:
    the server serves without its lifecycle row rather than not at all."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brain.settings.base")
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as error:
        # gunicorn prints a RuntimeError's message in one line and exits 1.
        raise RuntimeError(f"Configuration error: {error}") from None
    from django.db import connections

    from brain import signals

    try:
        send(signals)
    finally:
        for connection in connections.all(initialized_only=True):
            connection.close()
            if hasattr(connection, "close_pool"):
                connection.close_pool()
