"""What a webhook says about a send's outcome: the formats an endpoint can ask for, Herald's own first.

A format is a name, the statuses it tells of by default, and how it builds a payload. A vendor's feedback
format is registered by its dialect (dialects.apps), so nothing here knows a vendor.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sends.models import DeliveryEvent, Send

# Not a send status: a recipient used a marketing message's unsubscribe link (or the provider's). The send
# keeps its status; the notification says what happened to whom.
UNSUBSCRIBED = "unsubscribed"


@dataclass(frozen=True)
class TriggerRef:
    """What a payload may say of the trigger a send came from: the dialect it came in by, the caller's id."""

    source: str
    reference: str


@dataclass(frozen=True)
class Notification:
    """One outcome of one send, as every format is given it."""

    public_id: str
    send: Send
    status: str
    occurred_at: datetime
    error: str
    trigger: TriggerRef | None
    event: DeliveryEvent | None


@dataclass(frozen=True)
class PayloadFormat:
    name: str
    label: str
    statuses: tuple[str, ...]  # what an endpoint of this format is told of when it names no events
    build: Callable[[Notification], dict]


_FORMATS: dict[str, PayloadFormat] = {}


def payload_format_register(payload_format: PayloadFormat) -> None:
    _FORMATS[payload_format.name] = payload_format


def formats() -> dict[str, PayloadFormat]:
    return dict(_FORMATS)


def payload_format(name: str) -> PayloadFormat:
    return _FORMATS[name]


def payload_for(endpoint_format: str, notification: Notification) -> dict:
    return payload_format(endpoint_format).build(notification)


def _native(n: Notification) -> dict:
    send, trigger = n.send, n.trigger
    return {
        "id": n.public_id,
        "event": n.status,
        "occurred_at": n.occurred_at.isoformat(),
        "send": {
            "id": send.pk,
            "correlation_id": str(send.correlation_id),
            "status": send.status if n.status == UNSUBSCRIBED else n.status,
            "channel": send.channel,
            "to_address": send.to_address,
            "campaign": send.campaign.key if send.campaign_id else None,
            "trigger": send.trigger_id,
            "reference": trigger.reference if trigger and trigger.reference else None,
            "recipient": send.recipient_id,
            "metadata": send.metadata,
            "error": n.error or None,
        },
        "provider_event": _provider_event(n.event),
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


NATIVE = PayloadFormat("native", "Herald (native)", (*Send.FINAL_STATUSES, UNSUBSCRIBED), _native)
payload_format_register(NATIVE)
