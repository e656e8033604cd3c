"""Delivery outcomes in: each tracking event Anymail parses from a provider's webhook is stored once,
linked to its send, moves the send's status forward only, and suppresses the address where it must."""

import hashlib
import json
import logging
import uuid
from typing import Any

from anymail.signals import AnymailTrackingEvent
from anymail.utils import get_anymail_setting
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.utils import timezone

from core import metrics
from outbound_webhooks.payloads import UNSUBSCRIBED
from outbound_webhooks.subscriptions import webhook_deliveries_create, webhook_subscriptions_load
from recipients.models import normalize_address
from sends.models import DeliveryEvent, Send
from suppressions.models import Suppression
from suppressions.services import suppression_add

from .org_tracking import posting_org

logger = logging.getLogger(__name__)
Status = Send.Status
Type = DeliveryEvent.Type

# Before delivery: what a send may be while the provider already has the message. An event can arrive while
# the worker is still recording the send (`sending`), or after a timeout the provider in fact accepted
# (`scheduled` for a retry); the event is proof the message went, so it settles the send and no retry goes.
_UNDELIVERED = (Status.QUEUED, Status.SCHEDULED, Status.SENDING, Status.SENT)

# Event type -> (status it moves a send to, the statuses it may move it from). Forward only: nothing moves a
# send out of bounced, complained, rejected or failed, and delivered only ever gives way to a bounce (an
# asynchronous one, after the receiving server first accepted) or a complaint (which follows delivery).
# Every other event type (opened, clicked, deferred, …) is recorded and leaves the status as it is.
TRANSITIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    Type.DELIVERED: (Status.DELIVERED, _UNDELIVERED),
    Type.BOUNCED: (Status.BOUNCED, (*_UNDELIVERED, Status.DELIVERED)),
    Type.COMPLAINED: (Status.COMPLAINED, (*_UNDELIVERED, Status.DELIVERED)),
    Type.REJECTED: (Status.REJECTED, _UNDELIVERED),
    Type.FAILED: (Status.FAILED, _UNDELIVERED),
}

SUPPRESSING = {
    Type.BOUNCED: Suppression.Reason.BOUNCED,
    Type.COMPLAINED: Suppression.Reason.COMPLAINED,
    Type.UNSUBSCRIBED: Suppression.Reason.UNSUBSCRIBED,
}


def on_tracking(sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any) -> None:
    """Receiver of anymail.signals.tracking (connected in ProviderEventsConfig.ready)."""
    org_id = posting_org.get()
    if org_id is not None:  # an org's own account, on its own URL, checked with its own secret
        delivery_event_record(esp_name=esp_name, event=event, org_id=org_id)
        return
    if not get_anymail_setting("webhook_secret", default=None):
        # Anymail only warns when webhooks have no basic auth; Herald refuses, since anyone could then post
        # bounces and suppress an org's addresses. A 500 makes the provider retry once this is fixed.
        raise ImproperlyConfigured("Set ANYMAIL_WEBHOOK_SECRET: tracking webhooks need basic auth.")
    delivery_event_record(esp_name=esp_name, event=event)


def delivery_event_record(
    *, esp_name: str, event: AnymailTrackingEvent, org_id: int | None = None
) -> DeliveryEvent | None:
    """Store the event and apply it to its send; None when it was stored before (a replayed webhook).

    The insert, the status change, the suppression and the count commit together: if any fails, the webhook
    answers 500, the provider posts again, and the event is not yet there to be refused as a duplicate.
    """
    send = _send_for(event, org_id)
    record = DeliveryEvent(
        # An org's own account's event is the org's even where it matches no send (mail sent elsewhere).
        org_id=send.org_id if send else org_id,
        send=send,
        esp_name=esp_name,
        event_type=event.event_type or Type.UNKNOWN,
        # Cut to the columns' sizes: an oversized field must not fail the event, and the webhook for good.
        provider_message_id=str(event.message_id or "")[:255],
        provider_event_id=str(event.event_id or "")[:255],
        occurred_at=event.timestamp,
        address=normalize_address(event.recipient or "")[:320],
        description=event.description or "",
        mta_response=event.mta_response or "",
        reject_reason=(event.reject_reason or "")[:16],
        payload=_as_json(event.esp_event),
        dedupe_key=dedupe_key(esp_name=esp_name, event=event, org_id=org_id),
    )
    if send is not None and not send.to_address:
        # The recipient was erased: the event still counts, but what it says about the person is not kept.
        record.address = record.description = record.mta_response = ""
        record.payload = None
    moved = False
    with transaction.atomic():
        if not _insert_once(record):
            return None
        if send is not None:
            moved = _advance(send, record.event_type)
            told = TRANSITIONS[record.event_type][0] if moved else None
            if record.event_type == Type.UNSUBSCRIBED:
                told = UNSUBSCRIBED  # not a status of the send, but news to the org's application
            if told:
                # In this transaction: the event, the status and its notification stand or fall together.
                webhook_deliveries_create(
                    subscriptions=webhook_subscriptions_load(sends=[send]),
                    send=send,
                    status=told,
                    event=record,
                )
            _suppress(send, record)
            if moved:
                metrics.tally(metrics.send_tallies(send.channel, TRANSITIONS[record.event_type][0]))
    if send is None:
        logger.warning(
            "%s %s event for unknown message %r (%s) kept as delivery event %s",
            esp_name, record.event_type, record.provider_message_id, record.address, record.pk,
        )  # fmt: skip
    return record


def dedupe_key(*, esp_name: str, event: AnymailTrackingEvent, org_id: int | None = None) -> str:
    """What makes an event the same event when it is posted again.

    The provider's event id where it gives one, with the recipient: Amazon SES gives one SNS id to the events
    of every recipient of a message. Where it gives none (Brevo, Mailjet, Postmark deliveries and opens): the
    message id, the type, the provider's timestamp and the recipient.
    """
    recipient = normalize_address(event.recipient or "")
    if event.event_id:
        parts = [esp_name, "id", str(event.event_id), recipient]
    else:
        when = event.timestamp.isoformat() if event.timestamp else ""
        parts = [esp_name, str(event.message_id or ""), str(event.event_type), when, recipient]
    if org_id is not None:  # an org's own account: no other account's events can take its keys first
        parts.insert(0, f"org {org_id}")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _send_for(event: AnymailTrackingEvent, org_id: int | None = None) -> Send | None:
    """The send the event is about: only among `org_id`'s where the event came from an org's own account,
    and only among those the server's own providers sent where it came from one of them."""
    sends = Send.objects.select_related("org")
    sends = sends.filter(org_id=org_id) if org_id is not None else sends.filter(provider="")
    if event.message_id:
        send = sends.filter(provider_message_id=str(event.message_id)).order_by("-pk").first()
        if send is not None:
            return send
    # Herald puts the send's id in each email's metadata, and most providers echo it: that finds the send when
    # an event overtakes the worker recording the provider's message id, or the worker died before it could.
    correlation_id = (event.metadata or {}).get("herald_send") if isinstance(event.metadata, dict) else None
    try:
        correlation_id = uuid.UUID(str(correlation_id)) if correlation_id else None
    except ValueError:
        return None
    return sends.filter(correlation_id=correlation_id).first() if correlation_id else None


def _insert_once(record: DeliveryEvent) -> bool:
    # The unique dedupe_key decides, not a look-up first: two deliveries of one webhook racing each other
    # both pass a look-up, and only one passes the index.
    try:
        with transaction.atomic():
            record.save(force_insert=True)
    except IntegrityError:
        if DeliveryEvent.objects.filter(dedupe_key=record.dedupe_key).exists():
            return False
        raise
    return True


def _advance(send: Send, event_type: str) -> bool:
    """One conditional UPDATE: a replay, or an event overtaken by a later one, matches no row."""
    if event_type not in TRANSITIONS:
        return False
    to, sources = TRANSITIONS[event_type]
    moved = Send.objects.filter(pk=send.pk, status__in=sources).update(status=to, updated_at=timezone.now())
    return moved == 1


def _suppress(send: Send, record: DeliveryEvent) -> None:
    reason = SUPPRESSING.get(record.event_type)
    if reason is None or (reason == Suppression.Reason.BOUNCED and record.is_soft_bounce):
        return
    address = record.address or send.to_address
    if not address:
        return  # an erased send's address is suppressed already, as its hash
    suppression_add(org=send.org, address=address, reason=reason, source_event=record)


def _as_json(esp_event: Any) -> Any:
    if hasattr(esp_event, "lists"):  # Mailgun's legacy webhooks post a form: Django's QueryDict
        esp_event = {key: values[0] if len(values) == 1 else values for key, values in esp_event.lists()}
    try:
        return json.loads(json.dumps(esp_event, default=str))
    except (TypeError, ValueError):
        return None
