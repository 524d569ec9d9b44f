"""Each audit record carries the id of the transaction that wrote it (`xid`, PostgreSQL's 64-bit
xid8), the position the sealer orders records by (audit/chain.py).

Records written before this migration read 0: their transactions have all committed. New rows
get `pg_current_xact_id()` from the column's default, so every INSERT and COPY fills it without
naming it. The index serves the sealer and verify_audit, which read records in (xid, id) order;
it is built CONCURRENTLY, so audited writes go on while it builds (hence not atomic).
"""

from django.db import migrations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("audit", "0003_request_index")]

    operations = [
        migrations.RunSQL(
            # A constant default: PostgreSQL records it without rewriting the table.
            "ALTER TABLE audit_logs ADD COLUMN xid xid8 NOT NULL DEFAULT '0'",
            "ALTER TABLE audit_logs DROP COLUMN xid",
            elidable=False,
        ),
        migrations.RunSQL(
            "ALTER TABLE audit_logs ALTER COLUMN xid SET DEFAULT pg_current_xact_id()",
            "ALTER TABLE audit_logs ALTER COLUMN xid SET DEFAULT '0'",
            elidable=False,
        ),
        migrations.RunSQL(
            "CREATE INDEX CONCURRENTLY idx_audit_logs_position ON audit_logs (xid, id)",
            "DROP INDEX CONCURRENTLY idx_audit_logs_position",
            elidable=False,
        ),
    ]
