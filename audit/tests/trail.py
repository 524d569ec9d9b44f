"""Helpers of the sealing tests: seal everything, tamper as a superuser would, and open a
connection of one's own for overlapping transactions."""

import time

import psycopg
import pytest
from django.db import connection, transaction

from audit import chain
from audit.models import AuditCheckpoint, CheckpointKind
from audit.sealing import audit_seal


def seal_all(**options):
    """Seals every committed record (audit_seal's options pass through) and returns the
    checkpoints written. A record is sealed once every older transaction of the database has
    ended, so this waits out other sessions' transactions (up to 60 s) rather than fail."""
    deadline = time.monotonic() + 60
    written = []
    while True:
        written += audit_seal(**options)
        if unsealed_count() == 0:
            return written
        if time.monotonic() > deadline:
            pytest.fail("records still unsealed after 60 s: a transaction stays open")
        time.sleep(0.05)


def unsealed_count():
    """Records after the last seal checkpoint's range."""
    last = AuditCheckpoint.objects.filter(kind=CheckpointKind.SEAL).order_by("-sequence").first()
    after = chain.position_last(last) if last else chain.START
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM audit_logs WHERE (xid, id) > (%s::xid8, %s)",
            [str(after.xid), after.id],
        )
        return cursor.fetchone()[0]


def tamper(sql, params=()):
    """Runs `sql` with every append-only trigger off, as a superuser of the database can."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)


def raw_connection():
    """A connection of its own to the test database, outside Django (autocommit off)."""
    settings = connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"],
        host=settings["HOST"],
        port=settings["PORT"],
    )


def insert_record(raw, record_id="1"):
    """Writes one audit record through `raw` (in its open transaction); returns its id."""
    return raw.execute(
        "INSERT INTO audit_logs (user_id, changed_fields, operation, table_name, record_id,"
        " user_agent, request_id) VALUES ('system:test', '{}', 'CREATE', 'system_events', %s,"
        " '', '') RETURNING id",
        [record_id],
    ).fetchone()[0]
