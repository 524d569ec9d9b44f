import psycopg
import redis
from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

START_POSTGRESQL = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
START_REDIS = 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no'


class Command(BaseCommand):
    help = (
        "Checks that the configured PostgreSQL and Redis answer, and says which does not and how "
        "to start it. With --require-real, fails unless DATABASE_URL is PostgreSQL and REDIS_URL "
        "is set."
    )

    def add_arguments(self, parser):
        parser.add_argument("--require-real", action="store_true")

    def handle(self, *args, require_real=False, **options):
        problems = []
        if require_real and connection.vendor != "postgresql":
            problems.append("DATABASE_URL does not point at PostgreSQL.")
        if connection.vendor == "postgresql":
            params = connection.get_connection_params()
            # Connect without the pool, to the server's maintenance database: the test database
            # may not exist yet, and a dead server must fail fast.
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
        client = getattr(cache, "client", None)
        if client is None:
            if require_real:
                problems.append("REDIS_URL is not set.")
        else:
            try:
                client.get_client(write=True).ping()
            except redis.RedisError as error:
                problems.append(f"Redis is not reachable ({error}). Start it with: {START_REDIS}")
        if problems:
            raise CommandError("\n".join(problems))
        self.stdout.write("PostgreSQL and Redis answer." if require_real else "Services answer.")
