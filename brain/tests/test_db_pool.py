"""brain.db.pool: a pooled connection the server has closed is replaced when it is handed out,
and a healthy one is handed out without a query, whatever its descriptor's number."""

import time

import psycopg
import pytest
from django.db import connection
from psycopg_pool import ConnectionPool

from brain.db.pool import check_connection


def backend_pid():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def terminate(pid):
    """Ends a backend from outside Django's pool, and waits until it is gone."""
    params = connection.get_connection_params()
    with psycopg.connect(
        host=params.get("host"),
        port=params.get("port"),
        user=params.get("user"),
        password=params.get("password"),
        dbname=params["dbname"],
        autocommit=True,
    ) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        for _ in range(100):
            if not admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
                return
            time.sleep(0.02)
    raise AssertionError(f"backend {pid} still running")


@pytest.mark.django_db(transaction=True)
def test_connections_the_server_closed_are_replaced_at_checkout():
    pids = set()
    for _ in range(3):  # whichever connection the pool hands out next
        dead = backend_pid()
        pids.add(dead)
        connection.close()  # back to the pool
        terminate(dead)
        time.sleep(0.05)

        assert backend_pid() not in pids


@pytest.mark.django_db(transaction=True)
def test_a_healthy_connection_passes_without_a_query(monkeypatch):
    connection.ensure_connection()
    asked = []
    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(asked.append))

    check_connection(connection.connection)

    assert asked == []


@pytest.mark.django_db(transaction=True)
def test_a_connection_on_a_descriptor_above_1023_is_checked(tmp_path):
    opened = []
    try:
        while not opened or opened[-1].fileno() < 1100:  # select() stops at 1023
            opened.append(open(tmp_path / "fd", "w"))  # noqa: SIM115
        params = connection.get_connection_params()
        with psycopg.connect(
            host=params.get("host"),
            port=params.get("port"),
            user=params.get("user"),
            password=params.get("password"),
            dbname=params["dbname"],
            autocommit=True,
        ) as fresh:
            assert fresh.pgconn.socket > 1023

            check_connection(fresh)  # raised ValueError from select(): a failed check
    finally:
        for file in opened:
            file.close()
