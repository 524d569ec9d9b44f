import psycopg
import redis
from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

START_POSTGRESQL = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
START_REDIS = 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no'


class Command(BaseCommand):
    help = (
        "Checks that the PostgreSQL server of DATABASE_URL and the Redis of REDIS_URL answer, and "
        "says which does not and how to start it."
    )

    def handle(self, *args, **options):
        problems = []
        params = connection.get_connection_params()
        # Connect without the pool, to the server's maintenance database: the test database may
        # not exist yet, and a dead server must fail fast.
        try:
            psycopg.connect(
                host=params.get("host"),
                port=params.get("port"),
                user=params.get("user"),
                password=params.get("password"),
                dbname="postgres",
                connect_timeout=3,
            ).close()
        except psycopg.Error as error:
            problems.append(
                f"PostgreSQL is not reachable ({error}). Start it with: {START_POSTGRESQL}"
            )
        try:
            cache.client.get_client(write=True).ping()
        except redis.RedisError as error:
            problems.append(f"Redis is not reachable ({error}). Start it with: {START_REDIS}")
        if problems:
            raise CommandError("\n".join(problems))
        self.stdout.write("PostgreSQL and Redis answer.")
