#!/bin/sh
# The streaming replica: on first start, a base backup of the primary that starts it as a standby
# (pg_basebackup --write-recovery-conf); on every start, PostgreSQL in hot standby.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pg_basebackup --host=scale-postgres --username=replicator --pgdata="$PGDATA" \
        --wal-method=stream --write-recovery-conf --checkpoint=fast --progress
    chmod 0700 "$PGDATA"
fi
exec postgres
