"""Settings of the server bench/events.py drives: Brain's, with bench/reference_urls.py's four
reference views added to Brain's URLs."""

from brain.settings.base import *  # noqa: F403

ROOT_URLCONF = "bench.reference_urls"
