import pytest
from django.db import IntegrityError, connection, transaction

from events.filters import EventFilter
from events.models import SystemEvent
from events.selectors import event_list

from .factories import SystemEventFactory
from .plans import partition_indexes

pytestmark = pytest.mark.django_db


def columns():
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT column_name, data_type, character_maximum_length, is_nullable, is_identity,
                      column_default
               FROM information_schema.columns WHERE table_name = 'system_events'
               ORDER BY ordinal_position"""
        )
        return cursor.fetchall()


def test_table_has_the_seeds_columns_and_types():
    assert columns() == [
        # An integer drawn from the table's sequence (SERIAL): PostgreSQL 15 and 16 take no
        # identity column on a partitioned table.
        ("id", "integer", None, "NO", "NO", "nextval('system_events_id_seq'::regclass)"),
        ("event_type", "character varying", 50, "NO", "NO", None),
        ("severity", "character varying", 20, "NO", "NO", None),
        ("message", "text", None, "NO", "NO", None),
        ("details", "jsonb", None, "YES", "NO", None),
        ("source", "character varying", 100, "YES", "NO", None),
        # Django's Now(): the time of the INSERT statement, even inside a long transaction.
        ("timestamp", "timestamp with time zone", None, "NO", "NO", "statement_timestamp()"),
        ("created_at", "timestamp with time zone", None, "NO", "NO", "statement_timestamp()"),
    ]


def test_the_seeds_indexes_keep_their_names():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'system_events'"
        )
        indexes = dict(cursor.fetchall())

    assert indexes["idx_system_events_type"].endswith("USING btree (event_type)")
    assert indexes["idx_system_events_severity"].endswith("USING btree (severity)")
    assert indexes["idx_system_events_timestamp"].endswith('USING btree ("timestamp")')
    assert indexes["idx_system_events_type_sev_ts"].endswith(
        'USING btree (event_type, severity, "timestamp", id)'
    )


def test_database_defaults_timestamps_to_now():
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO system_events (event_type, severity, message) VALUES ('t', 'info', 'm') "
            'RETURNING "timestamp" = statement_timestamp() AND created_at = statement_timestamp()'
        )
        assert cursor.fetchone() == (True,)


def test_check_constraint_refuses_unknown_severity():
    with pytest.raises(IntegrityError, match="system_events_severity_valid"):
        SystemEventFactory(severity="fatal")


def test_str_names_type_severity_and_id():
    event = SystemEventFactory(event_type="deploy", severity="error")

    assert str(event) == f"deploy [error] #{event.id}"


def test_a_loaded_event_remembers_its_type():
    SystemEventFactory(event_type="deploy")

    assert SystemEvent.objects.get().loaded_event_type == "deploy"


def test_the_search_filter_can_use_the_trigram_index():
    # Unordered, as the statistics read it.
    search = EventFilter({"search": "time out"}, queryset=event_list()).qs.order_by()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table would be scanned
        plan = search.explain()

    assert any(
        f"Bitmap Index Scan on {name}" in plan
        for name in partition_indexes("idx_system_events_message_trgm")
    )
