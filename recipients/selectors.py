"""Reads about recipients that more than one caller needs."""

from collections.abc import Iterable

from .models import Suppression, normalize_address


def suppression_reasons(*, wanted: Iterable[tuple[int, str]]) -> dict[tuple[int, str], str]:
    """Which of these (org id, address) pairs are suppressed, and why, keyed as given: one query for all."""
    normalized = {(org_id, address): (org_id, normalize_address(address)) for org_id, address in wanted}
    if not normalized:
        return {}
    rows = Suppression.objects.filter(
        org_id__in={org_id for org_id, _ in normalized.values()},
        address__in={address for _, address in normalized.values()},
    ).values_list("org_id", "address", "reason")
    # The query may also match another org's suppression of one of these addresses: exact pairs only.
    found = {(org_id, address): reason for org_id, address, reason in rows}
    return {pair: found[key] for pair, key in normalized.items() if key in found}
