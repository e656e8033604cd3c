"""What Herald forgets: sends past their org's retention, and everything about a recipient who asks.

Both keep what statistics need (the rows, their statuses, timestamps and ids) and empty what describes a
person. Both work in set-based UPDATEs over id lists, so they cost a few statements per thousand sends.
"""

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from intake.lists import list_uploads_empty
from orgs.models import AuditEntry, IdempotentRequest, Org
from orgs.services import audit_record
from outbound_webhooks.models import WebhookAttempt, WebhookDelivery
from recipients.models import Recipient
from sends.models import DeliveryEvent, Send, Trigger
from suppressions.models import Suppression, address_hash

logger = logging.getLogger(__name__)
Status = Send.Status
UNFINISHED = (Status.QUEUED, Status.SCHEDULED, Status.SENDING)
ERASED = "(erased)"


def _purge_content(send_ids: list[int], now: datetime) -> None:
    """Empty what sends say and carry, and the bodies that quoted them; keep statuses, times and ids."""
    Send.objects.filter(pk__in=send_ids).update(
        subject="", text="", html="", context={}, metadata={}, purged_at=now
    )
    DeliveryEvent.objects.filter(send_id__in=send_ids, payload__isnull=False).update(payload=None)
    # A delivery keeps its event, status and attempts; its body told the send's address and custom data.
    WebhookDelivery.objects.filter(send_id__in=send_ids).exclude(payload={}).update(payload={})
    # A trigger's context and attachments are read when its sends go out: emptied once none is left to go.
    trigger_ids = set(
        Send.objects.filter(pk__in=send_ids, trigger__isnull=False).values_list("trigger_id", flat=True)
    )
    waiting = Send.objects.filter(trigger_id__in=trigger_ids, status__in=UNFINISHED).values("trigger_id")
    Trigger.objects.filter(pk__in=trigger_ids).exclude(pk__in=waiting).update(context=None, attachments=[])


# Retention


def retention_days(org: Org) -> int:
    """The org's own retention, or HERALD_RETENTION_DAYS where it has none; 0: kept for good."""
    return settings.HERALD_RETENTION_DAYS if org.retention_days is None else org.retention_days


def sends_purge_expired(*, now: datetime | None = None, budget_seconds: float | None = None) -> int:
    """Purge the content of every org's sends older than its retention; how many sends were purged.

    Chunks of HERALD_RETENTION_CHUNK sends, each its own transaction, oldest first along a partial index
    that purged sends leave: a run resumes where the last stopped, and running it twice purges nothing twice.
    A run stops after `budget_seconds` (by default half the beat interval) and the next one goes on.
    Sends not yet finished (queued, scheduled, sending) are left until they are.
    """
    now = now or timezone.now()
    budget = budget_seconds if budget_seconds is not None else settings.HERALD_RETENTION_INTERVAL / 2
    deadline = time.monotonic() + budget
    purged = 0
    for org in Org.objects.order_by("pk"):
        days = retention_days(org)
        if not days:
            continue
        expired = Send.objects.filter(
            org=org, purged_at__isnull=True, created_at__lt=now - timedelta(days=days)
        ).exclude(status__in=UNFINISHED)
        while time.monotonic() < deadline:
            ids = list(
                expired.order_by("created_at").values_list("pk", flat=True)[: settings.HERALD_RETENTION_CHUNK]
            )
            if not ids:
                break
            with transaction.atomic():
                _purge_content(ids, now)
            purged += len(ids)
    if settings.HERALD_RETENTION_DAYS:
        # Events Herald could match to no send belong to no org: the default retention applies. They are few.
        DeliveryEvent.objects.filter(
            send__isnull=True,
            created_at__lt=now - timedelta(days=settings.HERALD_RETENTION_DAYS),
            payload__isnull=False,
        ).update(payload=None)
    if purged:
        logger.info("retention purged the content of %s sends", purged)
    return purged


# Erasure


@dataclass
class Erasure:
    """What an erasure found and emptied, by kind: what the API answers and the audit log records."""

    recipient_id: int
    sends: int = 0
    triggers: int = 0
    delivery_events: int = 0
    webhook_deliveries: int = 0
    suppressions: int = 0
    admin_log_entries: int = 0
    idempotent_answers: int = 0
    list_uploads: int = 0

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if k != "recipient_id"}


def recipient_erase(*, recipient: Recipient, actor: Any = None) -> Erasure:
    """Remove a recipient's personal data from every table, keeping counts, statuses and timestamps.

    Deleted: the recipient. Emptied: the address, rendered content, context, custom data and errors of their
    sends; the context and attachments of triggers that reached only them; the payloads of their delivery
    events and webhook deliveries, and the errors those logged; admin log lines naming them. Their sends not
    yet dispatched end `suppressed`. Each of their addresses stays suppressed for the org, as a hash only, so
    it is never sent to again unless staff lift the suppression. `actor` (a user or an API token) is who
    asked, for the audit log.
    """
    now = timezone.now()
    with transaction.atomic():
        recipient = Recipient.objects.select_for_update().select_related("org").get(pk=recipient.pk)
        org = recipient.org
        own = {a for a in (recipient.email, recipient.phone) if a}
        sends = Send.objects.filter(org=org).filter(
            Q(recipient=recipient) | Q(recipient__isnull=True, to_address__in=own)
        )
        send_ids = list(sends.values_list("pk", flat=True))
        addresses = own | set(Send.objects.filter(pk__in=send_ids).values_list("to_address", flat=True))
        addresses.discard("")
        erasure = Erasure(recipient_id=recipient.pk, sends=len(send_ids))

        # A worker holding one of these loses its claim: it records nothing back (dispatch.record).
        Send.objects.filter(pk__in=send_ids, status__in=UNFINISHED).update(
            status=Status.SUPPRESSED, claim_token=None, updated_at=now
        )
        erasure.triggers = _erase_triggers(send_ids, addresses)
        _purge_content(send_ids, now)
        Send.objects.filter(pk__in=send_ids).update(to_address="", last_error="", updated_at=now)

        events = DeliveryEvent.objects.filter(
            Q(send_id__in=send_ids) | Q(send__isnull=True, address__in=addresses)
        )
        erasure.delivery_events = events.update(address="", description="", mta_response="", payload=None)
        deliveries = WebhookDelivery.objects.filter(send_id__in=send_ids)
        WebhookAttempt.objects.filter(delivery__in=deliveries).update(error="")
        erasure.webhook_deliveries = deliveries.update(last_error="")
        deliveries.filter(status=WebhookDelivery.Status.PENDING).update(
            status=WebhookDelivery.Status.FAILED, next_attempt_at=None, last_error="The recipient was erased."
        )

        erasure.suppressions = _suppress_hashed(org, addresses, _held_by_others(org, recipient, addresses))
        erasure.admin_log_entries = _erase_admin_log(org, recipient, send_ids, addresses)
        erasure.idempotent_answers = _forget_idempotent_answers(org, addresses | {recipient.external_id})
        erasure.list_uploads = list_uploads_empty(org=org)
        audit_record(
            actor=actor,
            action=AuditEntry.Action.RECIPIENT_ERASED,
            obj=recipient,
            summary=str(erasure.counts()),
        )  # ids and counts only: nothing of what was erased
        recipient.delete()
    logger.info("org %s erased recipient %s: %s", org.pk, erasure.recipient_id, erasure.counts())
    return erasure


def _forget_idempotent_answers(org: Org, names: set[str]) -> int:
    # The kept answer to a keyed write (orgs.idempotency) may show the person; a retry of it now runs anew.
    named = Q()
    for name in filter(None, names):
        named |= Q(body__icontains=json.dumps(name))  # a whole JSON string: "1" is not every id with a 1
    if not named:
        return 0
    deleted, _ = IdempotentRequest.objects.filter(named, org=org).delete()
    return deleted


def _held_by_others(org: Org, recipient: Recipient, addresses: Iterable[str]) -> set[str]:
    # Phone numbers are not unique per org (a family shares one): another person's number stays theirs.
    others = Recipient.objects.filter(org=org).exclude(pk=recipient.pk)
    return {
        a
        for pair in others.filter(Q(email__in=addresses) | Q(phone__in=addresses)).values_list(
            "email", "phone"
        )
        for a in pair
        if a in addresses
    }


def _erase_triggers(send_ids: list[int], addresses: set[str]) -> int:
    """Empty the triggers that reached only this recipient; a shared one loses its context (each send has
    its own copy) and keeps its attachments while another recipient's send still needs them. A caller's
    reference or idempotency key that spells out the address goes too."""
    trigger_ids = set(
        Send.objects.filter(pk__in=send_ids, trigger__isnull=False).values_list("trigger_id", flat=True)
    )
    if not trigger_ids:
        return 0
    others_waiting = Send.objects.filter(trigger_id__in=trigger_ids, status__in=UNFINISHED).exclude(
        pk__in=send_ids
    )
    waiting = set(others_waiting.values_list("trigger_id", flat=True))
    Trigger.objects.filter(pk__in=trigger_ids - waiting).update(context=None, attachments=[])
    Trigger.objects.filter(pk__in=waiting).update(context=None)
    triggers = Trigger.objects.filter(pk__in=trigger_ids)
    for address in addresses:
        triggers.filter(reference__icontains=address).update(reference="")
        triggers.filter(idempotency_key__icontains=address).update(idempotency_key=None)
    return len(trigger_ids)


def _suppress_hashed(org: Org, addresses: set[str], shared: set[str]) -> int:
    """Each address suppressed for all mail, by its hash only; an existing suppression keeps its reason."""
    hashes = {address_hash(org.pk, a) for a in addresses - shared}
    if not hashes:
        return 0
    existing = Suppression.objects.filter(org=org, address_hash__in=hashes)
    found = set(existing.values_list("address_hash", flat=True))
    existing.update(address="", scope=Suppression.Scope.ALL)
    Suppression.objects.bulk_create(
        [
            Suppression(org=org, address="", address_hash=h, reason=Suppression.Reason.ERASED)
            for h in hashes - found
        ],
        ignore_conflicts=True,
    )
    # Another address that shares a row with these (a shared phone) keeps its own suppression untouched.
    return len(hashes)


def _erase_admin_log(org: Org, recipient: Recipient, send_ids: list[int], addresses: set[str]) -> int:
    """The admin's history names objects by str(): a recipient's, a send's and a suppression's all show the
    address. Only this org's objects are touched, found by id: another org's recipient with the same
    address, and its history, are theirs."""
    suppressions = Suppression.objects.filter(
        org=org, address_hash__in={address_hash(org.pk, a) for a in addresses}
    ).values_list("pk", flat=True)
    named = Q()
    for model, pks in ((Recipient, [recipient.pk]), (Send, send_ids), (Suppression, list(suppressions))):
        if pks:
            content_type = ContentType.objects.get_for_model(model)
            named |= Q(content_type=content_type, object_id__in=[str(pk) for pk in pks])
    return LogEntry.objects.filter(named).update(object_repr=ERASED, change_message=json.dumps([]))
