"""Reads about recipients that more than one caller needs."""

from collections.abc import Iterable

from suppressions.models import Suppression, address_hash


def suppressions_for(*, wanted: Iterable[tuple[int, str]]) -> dict[tuple[int, str], Suppression]:
    """Which of these (org id, address) pairs are suppressed, keyed as given: one query for all.

    By hash, so an erased address, of which only the hash is left, is found like any other.
    """
    hashed = {(org_id, address): (org_id, address_hash(org_id, address)) for org_id, address in wanted}
    if not hashed:
        return {}
    rows = Suppression.objects.filter(
        org_id__in={org_id for org_id, _ in hashed.values()},
        address_hash__in={digest for _, digest in hashed.values()},
    ).only("org_id", "address_hash", "reason", "scope")
    found = {(s.org_id, s.address_hash): s for s in rows}
    return {pair: found[key] for pair, key in hashed.items() if key in found}
