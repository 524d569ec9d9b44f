"""Fixtures of the audit-path tests: an admin session and the scheduler's signal handlers."""

import signal

import pytest


@pytest.fixture
def admin_session(client, superuser):
    """The Django test client, logged in to the admin as the superuser (a session, no token)."""
    client.force_login(superuser)
    return client


@pytest.fixture
def signal_handlers():
    """run_scheduler installs SIGTERM and SIGINT handlers: the test process gets its own back."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)
