"""Twilio's delivery-status callback: checked against Twilio's signature, recorded like an email provider's
tracking event."""

import logging

from anymail.signals import AnymailTrackingEvent
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from providers.models import Provider, status_callback_url

from .tracking import delivery_event_record

logger = logging.getLogger(__name__)
ESP_NAME = "Twilio"


# Twilio's MessageStatus -> Anymail's normalised event type, which provider_events.tracking applies.
EVENT_TYPES = {
    "accepted": "queued",
    "queued": "queued",
    "scheduled": "queued",
    "sending": "queued",
    "sent": "sent",
    "delivered": "delivered",
    "undelivered": "failed",
    "failed": "failed",
    "canceled": "failed",
    "read": "opened",  # WhatsApp and RCS read receipts
}
# Error codes that say the number will never take an SMS: like a hard bounce, they suppress it.
# 30005: unknown or inactive handset; 30006: a landline or unreachable carrier; 21211: not a valid number.
UNREACHABLE_NUMBER = {"30005", "30006", "21211"}


@csrf_exempt
@require_POST
def twilio_status_callback(request: HttpRequest) -> HttpResponse:
    """POST /sms/twilio/status/: Twilio's status callback for a message, checked against its signature."""
    # An org's own Twilio account (providers.Provider) is given the callback URL with ?provider=<id>: its
    # callbacks are signed with that account's token, and may move only that org's sends.
    provider = _provider(request.GET.get("provider"))
    if request.GET.get("provider") and provider is None:
        return HttpResponse("No such provider.", status=403, content_type="text/plain")
    token = provider.credentials.get("auth_token", "") if provider else settings.TWILIO_AUTH_TOKEN
    if not token:
        # Without the token no signature can be checked, and unchecked callbacks could suppress numbers.
        # 503: Twilio retries, and the callbacks are taken once the token is set.
        logger.error("Twilio status callback refused: TWILIO_AUTH_TOKEN is not set")
        return HttpResponse("TWILIO_AUTH_TOKEN is not set.", status=503, content_type="text/plain")
    url = status_callback_url(provider) or request.build_absolute_uri()
    params = request.POST.dict()
    signature = request.headers.get("X-Twilio-Signature", "")
    if not RequestValidator(token).validate(url, params, signature):
        logger.warning("Twilio status callback with a bad signature refused (%s)", params.get("MessageSid"))
        return HttpResponse("Bad signature.", status=403, content_type="text/plain")
    status = params.get("MessageStatus", "")
    error_code = params.get("ErrorCode", "")
    event_type = EVENT_TYPES.get(status, "unknown")
    if event_type == "failed" and error_code in UNREACHABLE_NUMBER:
        event_type = "bounced"
    event = AnymailTrackingEvent(
        event_type=event_type,
        # Twilio posts each status of a message once (and again only on retry): that identifies the event.
        event_id=f"{params.get('MessageSid', '')}:{status}",
        message_id=params.get("MessageSid", ""),
        recipient=params.get("To", ""),
        timestamp=timezone.now(),
        description=f"Twilio error {error_code}" if error_code else "",
        mta_response=params.get("ErrorMessage", ""),
        esp_event=params,
    )
    delivery_event_record(esp_name=ESP_NAME, event=event, org_id=provider.org_id if provider else None)
    return HttpResponse(status=204)


def _provider(value: str | None) -> Provider | None:
    if not value or not value.isdigit() or len(value) > 18:
        return None
    return Provider.objects.filter(pk=int(value), kind="twilio").first()
