"""Browser tests: Playwright for Python driving the system's Chromium (Debian's `chromium`
package; Playwright's own browser download is never used) against Brain under gunicorn's ASGI
worker (HTTP and /ws/events on one port), on the test database.

`make test` leaves this folder out, saying so in one line, when /usr/bin/chromium is missing;
`.ci/run` installs it first, so CI always runs them.
"""

import contextlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import urlopen

import pytest
from django.conf import settings
from playwright.sync_api import sync_playwright

from tests.support import free_port, server_environment

CHROMIUM = os.environ.get("BROWSER_TESTS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
# How Chromium reports a request its content security policy refused to send.
BLOCKED_BY_POLICY = {"csp", "net::ERR_BLOCKED_BY_CSP"}


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module's tests.

    Playwright's sync API keeps an event loop running in this thread while it is started, and
    Django then refuses ORM calls from the thread unless DJANGO_ALLOW_ASYNC_UNSAFE is set, as
    Django's docs describe for such environments; it is set only while the browser is up."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} not found: install it (apt-get install chromium) or run `make test`, "
            "which leaves the browser tests out without it."
        )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            yield chromium
            chromium.close()


PASSWORD = "console-password-1"


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_superuser("operator", password=PASSWORD)


def log_in(watched):
    """Signs `operator` in through the admin's login page."""
    watched.open("/admin/login/")
    watched.page.fill("#id_username", "operator")
    watched.page.fill("#id_password", PASSWORD)
    watched.page.click("input[type=submit]")
    watched.page.wait_for_url("**/admin/")


# Reports each `securitypolicyviolation` event of every document to the test, before any script of
# the page runs (Playwright's init scripts are not subject to the page's policy).
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) =>
  window.reportPolicyViolation(event.effectiveDirective, event.blockedURI));
"""


class Watched:
    """A page with everything it asked of another host (the requests the browser's content
    security policy stopped before they left it are kept apart), every console error it logged,
    but those a test declares expected, and every content security policy violation it met, as
    (directive, blocked URI) pairs."""

    def __init__(self, page, base_url):
        self.page = page
        self.base_url = base_url
        self.foreign_requests = []
        self.blocked_requests = []
        self.console_errors = []
        self.expected_console_errors = []
        self.policy_violations = []
        page.expose_function(
            "reportPolicyViolation",
            lambda directive, uri: self.policy_violations.append((directive, uri)),
        )
        page.add_init_script(REPORT_VIOLATIONS)
        page.on("request", self._request)
        page.on("requestfailed", self._request_failed)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.console_errors.append(str(error)))
        page.on("response", self._response)

    def _request(self, request):
        url = urlparse(request.url)
        if url.scheme in {"http", "https", "ws", "wss"} and url.hostname not in LOCAL_HOSTS:
            self.foreign_requests.append(request.url)

    def _request_failed(self, request):
        if request.url in self.foreign_requests and request.failure in BLOCKED_BY_POLICY:
            self.foreign_requests.remove(request.url)
            self.blocked_requests.append(request.url)

    def _response(self, response):
        if response.status >= 400:
            self.console_errors.append(f"{response.status} {response.url}")

    def _console(self, message):
        if message.type == "error" and not any(
            re.search(pattern, message.text) for pattern in self.expected_console_errors
        ):
            self.console_errors.append(f"{self.page.url}: {message.text}")

    def open(self, path):
        response = self.page.goto(self.base_url + path)
        assert response.status == 200, (path, response.status)
        return response

    def screenshot(self, name, *, full_page=True):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=full_page)


class Server:
    """brain.asgi under gunicorn's ASGI worker in a process of its own, on a free port and the
    committed test database; `stop()` and `start()` again keep the port. Started without
    brain/gunicorn.conf.py, whose start and stop hooks record events the tests would count."""

    def __init__(self, log_path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process = None

    def start(self):
        environment = server_environment(DJANGO_SETTINGS_MODULE="brain.settings.test")
        command = [
            *(sys.executable, "-m", "gunicorn", "--worker-class", "asgi", "--workers", "1"),
            *("--asgi-lifespan", "off", "--no-control-socket", "--graceful-timeout", "1"),
            *("--bind", f"127.0.0.1:{self.port}", "brain.asgi:application"),
        ]
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                command, cwd=settings.BASE_DIR, env=environment, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError):
                with urlopen(f"{self.url}/health/live", timeout=2) as response:
                    if response.status == 200:
                        return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"gunicorn did not start:\n{self.log_path.read_text()}")
            time.sleep(0.1)

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def server(transactional_db, tmp_path):
    """A Server started for the test, stopped after it (it sees what the test commits)."""
    server = Server(tmp_path / "gunicorn.log")
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop()


@pytest.fixture
def watched(browser, server):
    """A fresh browser context's page on the live server; after the test, asserts that no page
    asked another host for anything, none logged a console error and none met a content security
    policy violation but those the test took out of `policy_violations`."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(10_000)
    page = Watched(context.new_page(), server.url)
    yield page
    context.close()
    assert page.foreign_requests == []
    assert page.console_errors == []
    assert page.policy_violations == []
