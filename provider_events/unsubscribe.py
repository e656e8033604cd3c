"""What a marketing message's one-click unsubscribe link does, and the page behind it: the one part of Herald
a recipient sees."""

from datetime import datetime

from anymail.signals import AnymailTrackingEvent
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from sends.models import DeliveryEvent, Send
from sends.unsubscribe import send_for_token

from .tracking import delivery_event_record

ESP_NAME = "Herald"  # the delivery events an unsubscribe link records carry this in place of a provider's


def unsubscribe_record(*, send: Send, now: datetime | None = None) -> DeliveryEvent | None:
    """Unsubscribe the send's address from the org's marketing mail, as a provider's unsubscribe event would.

    It is recorded as a delivery event of the send, so it suppresses the address (marketing mail only), tells
    the org's webhooks `unsubscribed`, and is recorded once however often the link is used: the event's
    dedupe key is the send's. None when it was recorded before, or the send's address was erased.
    """
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


# Mailbox providers post the one-click unsubscribe without cookies or a CSRF token (RFC 8058). The signed
# token in the URL proves the request; a forged cross-site POST could only unsubscribe the link's own owner.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button and changes nothing (link scanners follow links); POST unsubscribes at once."""
    send = send_for_token(token)
    if send is None:
        return _page(request, "unsubscribe/invalid.html", {}, status=404)
    if request.method == "POST":
        unsubscribe_record(send=send)
        return _page(request, "unsubscribe/done.html", {"org": send.org})
    return _page(request, "unsubscribe/confirm.html", {"org": send.org})


def _page(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    response = render(request, template, context, status=status)
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"  # the token must not leak to wherever the page links
    return response
