"""Fixtures shared by every app's tests."""

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from brain.tokens import token_create


@pytest.fixture(autouse=True)
def _clear_cache():
    """Every test starts and ends with an empty cache: none may assume it cold or warm."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def keep_partitions():
    """For a test whose time partitions (brain.partitions) outlive it, made by a migration or by
    `seed_events` outside a test transaction: afterwards, drops the partitions it made, so the
    tests after it find the partitions the test database was created with."""
    from brain import partitions

    tables = ("system_events", "audit_logs")
    with connection.cursor() as cursor:
        kept = {table: {p.name for p in partitions.partitions(cursor, table)} for table in tables}
    yield
    with connection.cursor() as cursor:
        for table, names in kept.items():
            for partition in partitions.partitions(cursor, table):
                if partition.name not in names:
                    cursor.execute(f"DROP TABLE {partition.name}")


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="alice", password="alice-password-1")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user(username="bob", password="bob-password-1")


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        username="staff", password="staff-password-1", is_staff=True
    )


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser(
        username="root", email="root@example.com", password="root-password-1"
    )


@pytest.fixture
def anon_client():
    return APIClient()


def _token_client(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=user)}")
    return client


@pytest.fixture
def api_client(user):
    """A client authenticated as `user` with an API token of full scope (brain.tokens)."""
    return _token_client(user)


@pytest.fixture
def other_client(other_user):
    return _token_client(other_user)


@pytest.fixture
def staff_client(staff_user):
    return _token_client(staff_user)


@pytest.fixture
def superuser_client(superuser):
    return _token_client(superuser)
