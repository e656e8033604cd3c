"""Writes about recipients: one function per use case."""

import logging
from typing import Any

from django.db import transaction

from orgs.errors import Invalid, Problem
from orgs.models import AuditEntry, Org
from orgs.services import audit_record

from .models import Recipient, Suppression, address_hash, normalize_address, scope_for

logger = logging.getLogger(__name__)


def suppression_add(
    *, org: Org, address: str, reason: str, scope: str | None = None, source_event=None
) -> tuple[Suppression, bool]:
    """Stop sending to an address for an org; an address already suppressed keeps its first reason, unless
    this one is wider (a bounce after an unsubscribe stops transactional mail too).

    `scope` defaults by reason: an unsubscribe stops marketing mail only, anything else all mail.
    `source_event` is the mailings.DeliveryEvent that caused it, if any (untyped: recipients sits below
    mailings). Returns the suppression and whether it is new.
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


# A recipient's own fields that callers may write by name, with their lengths; any other name is an attribute.
PROFILE_FIELDS = {"first_name": 150, "last_name": 150, "locale": 35}


def recipient_update_fields(*, recipient: Recipient, fields: dict[str, Any]) -> Recipient:
    """Write named values onto a recipient: first_name, last_name and locale, any other name as an attribute.

    Contact points (email, phone, external id) are not fields here: they identify the recipient.
    """
    problems = [
        Problem(name, f"Must be text of at most {PROFILE_FIELDS[name]} characters.")
        for name, value in fields.items()
        if name in PROFILE_FIELDS and not (isinstance(value, str) and len(value) <= PROFILE_FIELDS[name])
    ]
    if problems:
        raise Invalid("Some fields cannot be written.", problems=problems)
    with transaction.atomic():
        # Locked, so two writes of different attributes at once both land.
        locked = Recipient.objects.select_for_update().get(pk=recipient.pk)
        attributes = dict(locked.attributes)
        for name, value in fields.items():
            if name in PROFILE_FIELDS:
                setattr(locked, name, value)
            else:
                attributes[name] = value
        locked.attributes = attributes
        locked.save(update_fields=[*(n for n in fields if n in PROFILE_FIELDS), "attributes", "updated_at"])
    return locked
