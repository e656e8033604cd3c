"""The send log's rendered content compressed with LZ4 instead of PostgreSQL's default pglz.

Every send's outcome writes its rendered HTML (a few KB, so PostgreSQL compresses it into TOAST): pglz
spends about six times the CPU LZ4 does on it (docs/performance.md). Only values written from now on are
compressed with LZ4; both kinds are read alike. Other databases (SQLite for `make run`) have no such
setting and are left as they are, as is a PostgreSQL built without LZ4.
"""

from django.db import migrations

COLUMNS = ("subject", "text", "html")


def _set_compression(method: str):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT %s = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'",
                [method],
            )
            row = cursor.fetchone()
        if not (row and row[0]):  # a PostgreSQL built without LZ4: pglz it stays
            return
        table = schema_editor.quote_name(apps.get_model("mailings", "Send")._meta.db_table)
        for column in COLUMNS:
            schema_editor.execute(
                f"ALTER TABLE {table} ALTER COLUMN {schema_editor.quote_name(column)} SET COMPRESSION {method}"
            )

    return run


class Migration(migrations.Migration):
    dependencies = [("mailings", "0008_send_fewer_indexes")]

    operations = [migrations.RunPython(_set_compression("lz4"), _set_compression("pglz"))]
