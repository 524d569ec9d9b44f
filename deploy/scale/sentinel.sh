#!/bin/sh
# One Sentinel of three watching the cache's Redis, named "brain" (REDIS_URL=redis://brain/0).
# Two must agree that the master is down before one promotes the replica. Servers are known by
# their service names (each Redis announces its own), which outlive a container's address. The file is Sentinel's
# own, rewritten as it learns the replica, the other Sentinels and failovers: written here only
# when the container starts for the first time.
set -eu
[ -f /data/sentinel.conf ] || cat > /data/sentinel.conf <<CONF
port 26379
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel monitor brain scale-redis 6379 2
sentinel down-after-milliseconds brain 5000
sentinel failover-timeout brain 30000
CONF
exec redis-server /data/sentinel.conf --sentinel
