"""Signals the project sends when something happens to the server, for the apps to act on: their
receivers are connected in AppConfig.ready(), with a dispatch_uid."""

from django.dispatch import Signal

# A readiness probe's result (brain.health.ready), with `database_ok` and `cache_ok`, sent on
# every probe: a receiver keeps an unchanged state cheap.
readiness_checked = Signal()

# gunicorn's master process is ready to serve, with `bind` and `workers` (once per start), or
# exits, with `bind` (once per stop): brain/gunicorn.conf.py.
server_started = Signal()
server_stopped = Signal()
