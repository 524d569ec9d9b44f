"""The counts per type and source (events.counts) are kept per UTC month as well: a `month`
column (the first instant of the events' month, as a timestamp with time zone, so that it
compares with the partitions' bounds as the hour counts' `hour` does), written by the count
triggers, so that dropping a month's partition takes its events out of these counts by negating
the kept rows of that month instead of reading the partition.

The table's rows are rebuilt from system_events, which is locked against writes first (SHARE
mode: reads go on) until the migration commits, so the rebuilt counts miss no concurrent event.
Reversed by the same rebuild without the month.
"""

from django.db import migrations, models

COLUMNS = "timestamp, severity, event_type, source"
NEW_ROWS = f"SELECT {COLUMNS}, 1 AS n FROM new_rows"
OLD_ROWS = f"SELECT {COLUMNS}, -1 AS n FROM old_rows"
KEYS = ["event_type", "source"]


def count_function(type_keys, type_columns):
    """The trigger function of migration events 0002, appending the net change of a statement
    per hour and severity and per `type_keys`, the columns of system_event_type_source_counts
    that `type_columns` (SQL of a changed row, one expression per key) fill."""
    positions = ", ".join(str(position) for position in range(1, len(type_keys) + 1))
    type_keys, type_columns = ", ".join(type_keys), ", ".join(type_columns)

    def append_changes(rows):
        return f"""
        INSERT INTO system_event_hour_counts (hour, severity, count)
        SELECT date_trunc('hour', timestamp, 'UTC'), severity, sum(n) FROM ({rows}) AS changed
        GROUP BY 1, 2 HAVING sum(n) <> 0;
        INSERT INTO system_event_type_source_counts ({type_keys}, count)
        SELECT {type_columns}, sum(n) FROM ({rows}) AS changed
        GROUP BY {positions} HAVING sum(n) <> 0;"""

    return f"""
CREATE OR REPLACE FUNCTION system_events_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN {append_changes(NEW_ROWS)}
    ELSIF TG_OP = 'DELETE' THEN {append_changes(OLD_ROWS)}
    ELSIF TG_OP = 'UPDATE' THEN {append_changes(f"{NEW_ROWS} UNION ALL {OLD_ROWS}")}
    ELSE
        DELETE FROM system_event_hour_counts;
        DELETE FROM system_event_type_source_counts;
    END IF;
    RETURN NULL;
END;
$$;
"""


# Writers of system_events wait from the first statement to the migration's commit.
LOCK = "LOCK TABLE system_events IN SHARE MODE;"

FORWARD = f"""
{LOCK}
ALTER TABLE system_event_type_source_counts ADD COLUMN month timestamp with time zone;
DELETE FROM system_event_type_source_counts;
INSERT INTO system_event_type_source_counts (event_type, source, month, count, folded)
SELECT event_type, source, date_trunc('month', timestamp, 'UTC'), count(*), true
FROM system_events GROUP BY 1, 2, 3;
ALTER TABLE system_event_type_source_counts ALTER COLUMN month SET NOT NULL;
CREATE INDEX idx_event_type_counts_month ON system_event_type_source_counts (month);
{count_function(KEYS + ["month"], KEYS + ["date_trunc('month', timestamp, 'UTC')"])}
"""

BACKWARD = f"""
{LOCK}
DROP INDEX idx_event_type_counts_month;
ALTER TABLE system_event_type_source_counts DROP COLUMN month;
DELETE FROM system_event_type_source_counts;
INSERT INTO system_event_type_source_counts (event_type, source, count, folded)
SELECT event_type, source, count(*), true FROM system_events GROUP BY 1, 2;
{count_function(KEYS, KEYS)}
"""


class Migration(migrations.Migration):
    dependencies = [("events", "0007_partition_by_time")]

    operations = [
        migrations.AddField(
            model_name="eventtypesourcecount", name="month", field=models.DateTimeField()
        ),
        migrations.RunSQL([FORWARD], [BACKWARD], elidable=False),
    ]
