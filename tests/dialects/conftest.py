"""Helpers for sending the vendors' documented examples as they stand: their ids, their secrets."""

from django.db import connection

from orgs.models import ApiToken, Org, hash_token


def with_pk(factory, pk: int, **kwargs):
    """Create a row with the id a vendor's example names, then move its table's id sequence past it."""
    instance = factory(id=pk, **kwargs)
    table = instance._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT MAX(id) FROM \"{table}\"))", [table]
        )
    return instance


def token_with_secret(org: Org, secret: str, scopes: list[str] | None = None) -> ApiToken:
    """An API token whose secret is the one printed in a vendor's example."""
    return ApiToken.objects.create(
        org=org,
        name="vendor example",
        scopes=list(ApiToken.ALL_SCOPES if scopes is None else scopes),
        prefix=secret[:12],
        hashed=hash_token(secret),
    )
