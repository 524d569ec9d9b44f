from django.db import connection


def partition_indexes(index):
    """The names of the indexes PostgreSQL made of partitioned index `index` on each partition:
    a plan names those, never the parent's."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = %s::regclass",
            [index],
        )
        return [row[0] for row in cursor.fetchall()]
