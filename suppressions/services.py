"""Writes about suppressions: one function per use case."""

import logging
from typing import Any

from django.db import transaction

from orgs.models import AuditEntry, Org
from orgs.services import audit_record
from recipients.models import normalize_address
from sends.models import DeliveryEvent
from suppressions.models import Suppression, address_hash, scope_for

logger = logging.getLogger(__name__)


def suppression_add(
    *,
    org: Org,
    address: str,
    reason: str,
    scope: str | None = None,
    source_event: DeliveryEvent | None = None,
) -> tuple[Suppression, bool]:
    """Stop sending to an address for an org; an address already suppressed keeps its first reason, unless
    this one is wider (a bounce after an unsubscribe stops transactional mail too).

    `scope` defaults by reason: an unsubscribe stops marketing mail only, anything else all mail.
    `source_event` is the DeliveryEvent that caused it, if any. Returns the suppression and whether it is new.
    """
    scope = scope or scope_for(reason)
    address = normalize_address(address)
    suppression, created = Suppression.objects.get_or_create(
        org=org,
        address_hash=address_hash(org.pk, address),
        defaults={"address": address, "reason": reason, "scope": scope, "source_event": source_event},
    )
    if created:
        logger.info("org %s suppressed %s (%s, %s)", org.pk, suppression.address, reason, scope)
    elif scope == Suppression.Scope.ALL and suppression.scope != scope:
        # Conditional, so two events widening it at once write once.
        widened = Suppression.objects.filter(pk=suppression.pk, scope=Suppression.Scope.MARKETING).update(
            scope=scope, reason=reason, source_event=source_event
        )
        if widened:
            suppression.refresh_from_db()
            logger.info("org %s widened the suppression of %s (%s)", org.pk, suppression.address, reason)
    return suppression, created


def suppression_lift(*, suppression: Suppression, actor: Any = None) -> None:
    """Send to the address again. Staff lift a suppression when the address works again."""
    with transaction.atomic():
        # By id and reason only: the audit log keeps no address, so erasing a recipient leaves none there.
        audit_record(
            actor=actor, action=AuditEntry.Action.SUPPRESSION_LIFTED, obj=suppression,
            summary=f"Suppression {suppression.pk} ({suppression.reason}) lifted",
        )  # fmt: skip
        suppression.delete()
    logger.info("org %s lifted the suppression of %s", suppression.org_id, suppression.address)
