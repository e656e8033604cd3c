"""SMS through Twilio: the backend (SMS_BACKEND=mailings.sms_twilio.TwilioSMSBackend) and the delivery-status
callback, which Twilio signs and which Herald records like an email provider's tracking event."""

import logging

from anymail.signals import AnymailTrackingEvent
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.base.exceptions import TwilioRestException
from twilio.http import HttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from .events import delivery_event_record
from .sms import BaseSMSBackend, SMSMessage, SMSSendError

logger = logging.getLogger(__name__)
ESP_NAME = "Twilio"


class TwilioSMSBackend(BaseSMSBackend):
    # twilio's own HTTP client (requests) unless a subclass names another: the tests record requests with one.
    http_client: type[HttpClient] | None = None

    def __init__(self) -> None:
        if not (settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN):
            raise ImproperlyConfigured("Twilio SMS needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.")
        if not (settings.TWILIO_FROM or settings.TWILIO_MESSAGING_SERVICE_SID):
            raise ImproperlyConfigured("Twilio SMS needs TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID.")
        self.client = Client(
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            http_client=self.http_client() if self.http_client else None,
        )

    def send(self, message: SMSMessage) -> str:
        options = {"to": message.to, "body": message.body}
        if settings.TWILIO_MESSAGING_SERVICE_SID:
            options["messaging_service_sid"] = settings.TWILIO_MESSAGING_SERVICE_SID
        else:
            options["from_"] = message.sender or settings.TWILIO_FROM
        if settings.TWILIO_STATUS_CALLBACK_URL:
            options["status_callback"] = settings.TWILIO_STATUS_CALLBACK_URL
        try:
            created = self.client.messages.create(**options)
        except TwilioRestException as exc:
            # Twilio's own error code (21211: not a valid 'To' number, …) says more than its HTTP status.
            raise SMSSendError(f"Twilio error {exc.code}: {exc.msg}", status_code=exc.status) from exc
        message.provider_message_id = created.sid
        return created.sid


# Twilio's MessageStatus -> Anymail's normalised event type, which mailings.events applies to the send.
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
    if not settings.TWILIO_AUTH_TOKEN:
        # Without the token no signature can be checked, and unchecked callbacks could suppress numbers.
        # 503: Twilio retries, and the callbacks are taken once the token is set.
        logger.error("Twilio status callback refused: TWILIO_AUTH_TOKEN is not set")
        return HttpResponse("TWILIO_AUTH_TOKEN is not set.", status=503, content_type="text/plain")
    url = settings.TWILIO_STATUS_CALLBACK_URL or request.build_absolute_uri()
    params = request.POST.dict()
    signature = request.headers.get("X-Twilio-Signature", "")
    if not RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(url, params, signature):
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
    delivery_event_record(esp_name=ESP_NAME, event=event)
    return HttpResponse(status=204)
