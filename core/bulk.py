"""Many rows in one statement, fast: what trigger intake and dispatch use for their set-based work.

Django's bulk_create on PostgreSQL sends one array a column too, but it prepares every value through the
field API and psycopg quotes every array element in Python (client-side binding): about half of a
1,000-recipient trigger's time. Here the arrays go in PostgreSQL's binary format, which psycopg builds in
C; rows read in bulk come back the same way. It lives at the floor of the layers because every app may
read and write in bulk.
"""

import contextlib
import json
from collections.abc import Iterable, Sequence
from typing import TypeVar

import psycopg
from django.core.exceptions import EmptyResultSet
from django.db import connection, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.query import ModelIterable

M = TypeVar("M", bound=models.Model)


@contextlib.contextmanager
def _cursor(db: BaseDatabaseWrapper):
    """A psycopg cursor of Django's connection, after the checks Django's own cursors make first."""
    db.close_if_health_check_failed()
    db.ensure_connection()
    db.validate_no_broken_transaction()
    with db.wrap_database_errors, psycopg.Cursor(db.connection) as cursor:
        yield cursor


def execute_arrays(sql: str, columns: Sequence[list]) -> list[tuple]:
    """Run `sql`, whose `%b` placeholders each take one column as an array (binary), and fetch its rows."""
    with _cursor(connection) as cursor:
        cursor.execute(sql, list(columns))
        return cursor.fetchall() if cursor.description else []


def built(model: type[M], rows: Iterable[dict]) -> list[M]:
    """Unsaved instances of `model`, one per dict of field attnames, the rest at their defaults.

    What `model(**row)` gives, built the way the ORM builds the rows it reads, positionally: a wide
    model's keyword path spends most of its time matching arguments to fields (a send: 25 us against 6).
    """
    fields = model._meta.concrete_fields
    names = {f.attname for f in fields}
    objs = []
    for row in rows:
        if unknown := row.keys() - names:
            raise TypeError(f"{model.__name__} has no field {', '.join(sorted(unknown))}")
        objs.append(model(*[row[f.attname] if f.attname in row else f.get_default() for f in fields]))
    return objs


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


# Fields whose values psycopg's binary loaders give exactly as the ORM does (datetimes: the same instants,
# in zoneinfo's UTC rather than datetime.UTC). Not inet, for one: binary gives an ipaddress object.
_BINARY_SAFE = {
    "AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField", "SmallIntegerField",
    "PositiveIntegerField", "PositiveBigIntegerField", "PositiveSmallIntegerField", "BooleanField",
    "CharField", "SlugField", "TextField", "UUIDField", "DateTimeField", "DateField", "JSONField",
    "ForeignKey", "OneToOneField",
}  # fmt: skip


def _read_as_orm(field: models.Field) -> bool:
    if field.get_internal_type() not in _BINARY_SAFE:
        return False
    if isinstance(field, models.JSONField):  # its own conversion is json.loads, which psycopg does too
        return type(field).from_db_value is models.JSONField.from_db_value and field.decoder is None
    return not hasattr(field, "from_db_value")


def instances(queryset: models.QuerySet[M]) -> list[M]:
    """The queryset's instances, as `list(queryset)` gives them, their rows read in binary.

    Django converts each value of each row in Python on its way to a model (time-zone aware datetimes
    above all: its loader for them is written in Python); psycopg parses binary rows in C. A chunk of
    sends loads about twice as fast. Only for a plain queryset of whole instances of plain fields;
    elsewhere than PostgreSQL (SQLite) it is `list(queryset)`.
    """
    query, model = queryset.query, queryset.model
    plain = (
        queryset._iterable_class is ModelIterable
        and not query.select_related
        and not query.annotations
        and not query.deferred_loading[0]
        and not query.extra
        and not queryset._prefetch_related_lookups
        and not queryset._known_related_objects
    )
    fields = model._meta.concrete_fields
    unlike = [f.name for f in fields if not _read_as_orm(f)]
    if not plain or unlike:
        raise ValueError(f"instances() reads plain querysets of plain fields only, not {unlike or query}")
    db = connections[queryset.db]
    if db.vendor != "postgresql":
        return list(queryset)
    try:
        sql, params = query.get_compiler(queryset.db).as_sql()
    except EmptyResultSet:  # pk__in=[], none(): nothing to ask the database
        return []
    names = [f.attname for f in fields]
    with _cursor(db) as cursor:
        cursor.execute(sql, params, binary=True)
        return [model.from_db(queryset.db, names, row) for row in cursor]
