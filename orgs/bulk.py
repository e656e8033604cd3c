"""Many rows in one statement, fast: what trigger intake and dispatch use for their set-based writes.

Django's bulk_create on PostgreSQL sends one array a column too, but it prepares every value through the
field API and psycopg quotes every array element in Python (client-side binding): about half of a
1,000-recipient trigger's time. Here the arrays go in PostgreSQL's binary format, which psycopg builds in
C. It lives at the floor of the layers because every app may write in bulk.
"""

import json
from collections.abc import Sequence

import psycopg
from django.db import connection, models


def execute_arrays(sql: str, columns: Sequence[list]) -> list[tuple]:
    """Run `sql`, whose `%b` placeholders each take one column as an array (binary), and fetch its rows."""
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, list(columns))
        return cursor.fetchall() if cursor.description else []


def insert_returning(
    objs: Sequence[models.Model], *, returning: Sequence[str] = ("id",), skip_conflicts: bool = False
) -> list[tuple]:
    """Insert unsaved instances of one model in one statement; the `returning` columns of each row inserted.

    With `skip_conflicts`, rows that break a unique constraint are left out (and not returned). PostgreSQL
    only: elsewhere the caller uses bulk_create.
    """
    if not objs:
        return []
    meta = objs[0]._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    columns, casts, selects = [], [], []
    for field in fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            values = [field.pre_save(obj, True) for obj in objs]
        else:
            values = [getattr(obj, field.attname) for obj in objs]
        if isinstance(field, models.JSONField):
            values = [None if v is None and field.null else json.dumps(v, cls=field.encoder) for v in values]
            casts.append("%b::text[]")
            selects.append(f"{field.column}::jsonb")
        else:
            casts.append(f"%b::{field.db_type(connection)}[]")
            selects.append(field.column)
        columns.append(values)
    names = ", ".join(f.column for f in fields)
    sql = (
        f"INSERT INTO {meta.db_table} ({names}) SELECT {', '.join(selects)} "
        f"FROM unnest({', '.join(casts)}) AS v({names})"
        f"{' ON CONFLICT DO NOTHING' if skip_conflicts else ''} RETURNING {', '.join(returning)}"
    )
    return execute_arrays(sql, columns)
