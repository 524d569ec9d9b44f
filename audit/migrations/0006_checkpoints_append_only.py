"""audit_checkpoints is append-only: a trigger refuses UPDATE and DELETE always, and TRUNCATE
unless the transaction has set `brain.audit_purge` to 'on' (flush does, emptying the whole
database). A purge deletes records, never checkpoints: it adds one saying what it removed."""

from django.db import migrations

CREATE = """
CREATE FUNCTION audit_checkpoints_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND current_setting('brain.audit_purge', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit_checkpoints is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_checkpoints_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_checkpoints_append_only();
"""

DROP = """
DROP TRIGGER audit_checkpoints_no_truncate ON audit_checkpoints;
DROP TRIGGER audit_checkpoints_append_only ON audit_checkpoints;
DROP FUNCTION audit_checkpoints_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_checkpoints")]

    operations = [migrations.RunSQL([CREATE], [DROP], elidable=False)]
