"""Reads of the send log that more than one place needs, each answered from an index."""

import contextlib
import uuid
from datetime import datetime

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from orgs.models import Org
from recipients.models import normalize_email, normalize_phone
from sends.models import Send, Trigger

# A caller's own id is at most this long (Trigger.reference); a longer text names no trigger.
REFERENCE_MAX = Trigger._meta.get_field("reference").max_length


def trigger_ids_by_reference(*, reference: str, org: Org | None = None) -> list[int]:
    """The triggers a caller's own id names, within one org; with no org, in every org (the admin, whose
    queryset is scoped to the orgs its user may see).

    A list, not a subquery: the send log's filters OR it with an indexed column, and PostgreSQL combines
    two index scans only when both sides are plain conditions.
    """
    if not reference or len(reference) > REFERENCE_MAX:
        return []
    triggers = Trigger.objects.filter(reference=reference)
    if org is not None:
        triggers = triggers.filter(org=org)
    return list(triggers.order_by().values_list("pk", flat=True))


def sends_by_caller_id(*, org: Org, value: str) -> Q:
    """Sends named by an id the caller knows: Herald's correlation id of one send, or the caller's own id
    for its trigger (parcelLab's correlationId, Marketing Cloud's requestId, a native reference or an
    Idempotency-Key), which names every send of that trigger."""
    found = Q(trigger_id__in=trigger_ids_by_reference(reference=value, org=org))
    with contextlib.suppress(ValueError):
        found |= Q(correlation_id=uuid.UUID(value))
    return found


def send_search_filter(term: str) -> Q | None:
    """Sends named by an email address, a phone number, a correlation id, the caller's own id for their
    trigger or a provider's message id.

    Exact matches only, each on an indexed column: support pastes what a customer or a provider said,
    and a substring search would read the whole send log.
    """
    term = term.strip()
    if not term:
        return None
    bare = term.strip("<>")
    # Email Message-IDs are stored with their angle brackets; people copy them with or without.
    found = Q(provider_message_id__in={term, bare, f"<{bare}>"})
    trigger_ids = trigger_ids_by_reference(reference=term)
    if trigger_ids:
        found |= Q(trigger_id__in=trigger_ids)
    with contextlib.suppress(ValueError):
        found |= Q(correlation_id=uuid.UUID(term))
    if "@" in term:
        found |= Q(to_address=normalize_email(term))
    phone = normalize_phone(term)
    if phone:
        found |= Q(to_address=phone)
    return found


def sends_failed_since(*, sends: QuerySet, campaign_id: int, since: datetime) -> QuerySet:
    """The campaign's failed sends since a moment that have not been re-triggered yet."""
    retriggered = Send.objects.filter(retriggered_from=OuterRef("pk"))
    return sends.filter(campaign_id=campaign_id, status=Send.Status.FAILED, created_at__gte=since).exclude(
        Exists(retriggered)
    )


def trigger_counts(*, trigger: Trigger) -> dict[str, int]:
    rows = trigger.sends.values("status").annotate(n=Count("pk")).order_by()
    return {row["status"]: row["n"] for row in rows}
