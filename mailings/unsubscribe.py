"""One-click unsubscribe (RFC 8058): a link signed for one send, the headers that carry it, and what it does.

The token is the send's correlation id (random, not a counter) signed with SECRET_KEY: it names one
recipient, one campaign and the address the message went to, and cannot be made up for another. It needs no
login and never expires: a person may unsubscribe from a message years old. SECRET_KEY_FALLBACKS keeps links
working across a key rotation.
"""

import uuid
from datetime import datetime
from urllib.parse import quote

from anymail.signals import AnymailTrackingEvent
from django.conf import settings
from django.core import signing
from django.utils import timezone

from .models import CampaignKind, DeliveryEvent, Send

_SALT = "herald.unsubscribe"
ESP_NAME = "Herald"  # the delivery events an unsubscribe link records carry this in place of a provider's


def is_marketing(send: Send) -> bool:
    return send.campaign is not None and send.campaign.kind == CampaignKind.MARKETING


def _signer() -> signing.Signer:
    return signing.Signer(salt=_SALT, sep=".")


def unsubscribe_token(send: Send) -> str:
    return _signer().sign(send.correlation_id.hex)


def unsubscribe_url(send: Send) -> str:
    """The send's one-click link; empty for transactional mail, which has nothing to unsubscribe from."""
    if not is_marketing(send):
        return ""
    return f"{settings.HERALD_PUBLIC_URL.rstrip('/')}/u/{unsubscribe_token(send)}"


def unsubscribe_headers(send: Send) -> dict[str, str]:
    """List-Unsubscribe and List-Unsubscribe-Post for a marketing email; nothing for any other."""
    url = unsubscribe_url(send)
    if not url:
        return {}
    links = [f"<{url}>"]
    if settings.HERALD_UNSUBSCRIBE_MAILTO:
        subject = quote(f"unsubscribe {unsubscribe_token(send)}")
        links.append(f"<mailto:{settings.HERALD_UNSUBSCRIBE_MAILTO}?subject={subject}>")
    return {"List-Unsubscribe": ", ".join(links), "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def send_for_token(token: str) -> Send | None:
    """The send a token was signed for; None for a token Herald did not sign, or of a send that is gone."""
    try:
        correlation_id = uuid.UUID(hex=_signer().unsign(token))
    except (signing.BadSignature, ValueError):
        return None
    return Send.objects.select_related("org").filter(correlation_id=correlation_id).first()


def unsubscribe_record(*, send: Send, now: datetime | None = None) -> DeliveryEvent | None:
    """Unsubscribe the send's address from the org's marketing mail, as a provider's unsubscribe event would.

    It is recorded as a delivery event of the send, so it suppresses the address (marketing mail only), tells
    the org's webhooks `unsubscribed`, and is recorded once however often the link is used: the event's
    dedupe key is the send's. None when it was recorded before, or the send's address was erased.
    """
    from .events import delivery_event_record  # events builds on webhooks, which build on this module's peers

    if not send.to_address:
        return None
    event = AnymailTrackingEvent(
        event_type=DeliveryEvent.Type.UNSUBSCRIBED,
        event_id=f"unsubscribe:{send.correlation_id}",
        timestamp=now or timezone.now(),
        recipient=send.to_address,
        metadata={"herald_send": str(send.correlation_id)},
        description="Unsubscribed with the message's one-click link.",
        esp_event={"source": "one-click link"},
    )
    return delivery_event_record(esp_name=ESP_NAME, event=event)
