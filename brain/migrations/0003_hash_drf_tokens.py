"""Hashes the tokens of DRF's authtoken app, which Brain used before its own, into API tokens of
full scope that keep working, then drops DRF's table and its migration records: no key stays in
the database. A database that never had DRF's table is left as it is."""

import hashlib

from django.db import migrations

DRF_TABLE = "authtoken_token"


def hash_drf_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if DRF_TABLE not in connection.introspection.table_names():
        return
    APIToken = apps.get_model("brain", "APIToken")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, user_id, created FROM {DRF_TABLE}")
        rows = cursor.fetchall()
    APIToken.objects.bulk_create(
        APIToken(
            digest=hashlib.sha256(key.encode()).hexdigest(),
            prefix=key[:8],
            user_id=user_id,
            created_at=created,
        )
        for key, user_id, created in rows
    )
    schema_editor.execute(f"DROP TABLE {DRF_TABLE}")
    schema_editor.execute("DELETE FROM django_migrations WHERE app = 'authtoken'")


class Migration(migrations.Migration):
    dependencies = [("brain", "0002_api_tokens")]

    operations = [migrations.RunPython(hash_drf_tokens, migrations.RunPython.noop)]
