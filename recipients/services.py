"""Writes about recipients: one function per use case."""

import logging

from orgs.models import Org

from .models import Suppression, normalize_address

logger = logging.getLogger(__name__)


def suppression_add(*, org: Org, address: str, reason: str, source_event=None) -> tuple[Suppression, bool]:
    """Stop sending to an address for an org; an address already suppressed keeps its first reason.

    `source_event` is the mailings.DeliveryEvent that caused it, if any (untyped: recipients sits below
    mailings). Returns the suppression and whether it is new.
    """
    suppression, created = Suppression.objects.get_or_create(
        org=org,
        address=normalize_address(address),
        defaults={"reason": reason, "source_event": source_event},
    )
    if created:
        logger.info("org %s suppressed %s (%s)", org.pk, suppression.address, reason)
    return suppression, created


def suppression_lift(*, suppression: Suppression) -> None:
    """Send to the address again. Staff lift a suppression when the address works again."""
    suppression.delete()
    logger.info("org %s lifted the suppression of %s", suppression.org_id, suppression.address)
