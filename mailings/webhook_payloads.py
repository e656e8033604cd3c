"""What a webhook says about a send's outcome, in each format an endpoint can ask for."""

from dataclasses import dataclass
from datetime import datetime

from .models import DeliveryEvent, Send, WebhookEndpoint

Status = Send.Status
Format = WebhookEndpoint.Format

# parcelLab's feedback knows success and failure. A complaint follows delivery and is neither (nor is an
# unsubscribe), so a parcelLab endpoint is not told of one; every other final outcome it is.
# Not a send status: a recipient used a marketing message's unsubscribe link (or the provider's). The send
# keeps its status; the notification says what happened to whom.
UNSUBSCRIBED = "unsubscribed"
FORMAT_STATUSES: dict[str, tuple[str, ...]] = {
    Format.NATIVE: (*Send.FINAL_STATUSES, UNSUBSCRIBED),
    Format.PARCELLAB: tuple(s for s in Send.FINAL_STATUSES if s != Status.COMPLAINED),
}
PARCELLAB_SUCCESS = (Status.SENT, Status.DELIVERED)
# The failure parcelLab reports is a bounce type as Amazon SES writes it: "<type> / <subtype>".
PARCELLAB_FAILURES = {
    Status.BOUNCED: "Permanent / General",
    Status.REJECTED: "Permanent / General",
    Status.FAILED: "Permanent / General",
    Status.SUPPRESSED: "Permanent / Suppressed",
    Status.EXPIRED: "Undetermined / General",
}


@dataclass(frozen=True)
class TriggerRef:
    source: str
    reference: str


def payload_for(
    endpoint: WebhookEndpoint,
    *,
    public_id: str,
    send: Send,
    status: str,
    occurred_at: datetime,
    error: str,
    trigger: TriggerRef | None,
    event: DeliveryEvent | None,
) -> dict:
    if endpoint.format == Format.PARCELLAB:
        return _parcellab(send=send, status=status, trigger=trigger, event=event)
    return {
        "id": public_id,
        "event": status,
        "occurred_at": occurred_at.isoformat(),
        "send": {
            "id": send.pk,
            "correlation_id": str(send.correlation_id),
            "status": send.status if status == UNSUBSCRIBED else status,
            "channel": send.channel,
            "to_address": send.to_address,
            "campaign": send.campaign.key if send.campaign_id else None,
            "trigger": send.trigger_id,
            "reference": trigger.reference if trigger and trigger.reference else None,
            "recipient": send.recipient_id,
            "metadata": send.metadata,
            "error": error or None,
        },
        "provider_event": _provider_event(event),
    }


def _provider_event(event: DeliveryEvent | None) -> dict | None:
    if event is None:
        return None
    return {
        "type": event.event_type,
        "esp_name": event.esp_name,
        "occurred_at": event.occurred_at.isoformat() if event.occurred_at else None,
        "description": event.description,
        "mta_response": event.mta_response,
    }


def _parcellab(*, send: Send, status: str, trigger: TriggerRef | None, event: DeliveryEvent | None) -> dict:
    # A send triggered in parcelLab's dialect is known to the caller by the correlationId it gave (or was
    # given back); any other send by its own correlation id.
    if trigger is not None and trigger.source == "parcellab" and trigger.reference:
        correlation_id = trigger.reference
    else:
        correlation_id = str(send.correlation_id)
    if status in PARCELLAB_SUCCESS:
        return {"correlationId": correlation_id, "success": True}
    return {"correlationId": correlation_id, "success": False, "failure": _bounce_type(status, event)}


def _bounce_type(status: str, event: DeliveryEvent | None) -> str:
    if event is not None and status == Status.BOUNCED:
        bounce = (event.payload or {}).get("bounce") if isinstance(event.payload, dict) else None
        if isinstance(bounce, dict) and bounce.get("bounceType"):  # Amazon SES says it in these very words
            return f"{bounce['bounceType']} / {bounce.get('bounceSubType') or 'General'}"
        from .events import is_soft_bounce  # here: events imports the webhook services, which import this

        if is_soft_bounce(event):
            return "Transient / General"
    return PARCELLAB_FAILURES.get(status, "Permanent / General")
