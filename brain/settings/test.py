"""Test settings: the base settings (PostgreSQL and Redis, from DATABASE_URL and REDIS_URL) with
fast password hashing, static files from the apps' folders and throttles out of the way."""

import os

from redis.connection import parse_url

from .base import *  # noqa: F403
from .base import CACHES, INSTALLED_APPS, REDIS_URL, REST_FRAMEWORK

# pytest-xdist runs the suite in several processes (gw0, gw1, ...): pytest-django gives each its
# own test database, and each gets its own Redis database here, the next after REDIS_URL's for
# each worker past the first, so one's cache.clear() and keys never meet another's.
if worker := os.environ.get("PYTEST_XDIST_WORKER"):
    _db = int(parse_url(REDIS_URL).get("db", 0)) + int(worker.removeprefix("gw"))
    REDIS_URL = f"{REDIS_URL.rsplit('/', 1)[0]}/{_db}"
    CACHES = {"default": {**CACHES["default"], "LOCATION": REDIS_URL}}

# Models that only the tests use (an audited model with excluded fields), registered as any
# project model is. No migrations: the test database creates their tables directly.
INSTALLED_APPS = [*INSTALLED_APPS, "audit.tests.auditapp"]

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# No collectstatic in tests: whitenoise serves from the apps' static folders (finders), and the
# manifest storage would refuse unknown files.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {
        **REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
        "anon": "100000/min",
        "user": "100000/min",
        "failed_token": "100000/min",
    },
}
# Tests of the failed-login limits set their own rates.
THROTTLE_RATE_FAILED_LOGIN_USERNAME_ADDRESS = "100000/min"
THROTTLE_RATE_FAILED_LOGIN_ADDRESS = "100000/min"
# A fixed key for checkpoints, so the suite writes nothing under var/ (tests of the key file set
# their own path).
AUDIT_SIGNING_KEY = "dGVzdC1zdWl0ZS1hdWRpdC1zaWduaW5nLWtleS0zMmI="

# Replicas for the routing tests (tests/test_replicas.py), which route to them by setting
# DATABASE_REPLICAS: more connections to the test database. They see only what is committed, so
# in a test that runs in a transaction they lag behind every write of the test. A test module that
# uses them closes their pools (Django closes only the test database's before dropping it).
DATABASES = {
    **DATABASES,  # noqa: F405
    **{
        alias: {**DATABASES["default"], "TEST": {"MIRROR": "default"}}  # noqa: F405
        for alias in ["replica1", "replica2"]
    },
}
