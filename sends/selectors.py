"""Reads of the send log that more than one place needs, each answered from an index."""

import contextlib
import uuid
from datetime import datetime

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from recipients.models import normalize_email, normalize_phone
from sends.models import Send, Trigger


def send_search_filter(term: str) -> Q | None:
    """Sends named by an email address, a phone number, a correlation id or a provider's message id.

    Exact matches only, each on an indexed column: support pastes what a customer or a provider said,
    and a substring search would read the whole send log.
    """
    term = term.strip()
    if not term:
        return None
    bare = term.strip("<>")
    # Email Message-IDs are stored with their angle brackets; people copy them with or without.
    found = Q(provider_message_id__in={term, bare, f"<{bare}>"})
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
