"""Settings of bench/audit.py: Brain's, plus django-auditlog and the peer's model of
system_events (bench/peer) for the comparison. django-auditlog is installed only for the
benchmark (pip install --target DIR django-auditlog, with DIR on PYTHONPATH), never in
requirements.txt."""

from brain.settings.base import *  # noqa: F403
from brain.settings.base import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "auditlog", "bench.peer"]
# One request-less process: no request log lines between the timings.
LOGGING = {"version": 1, "disable_existing_loggers": False}
