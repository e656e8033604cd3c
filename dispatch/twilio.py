"""SMS through Twilio: the backend (SMS_BACKEND=dispatch.twilio.TwilioSMSBackend). Its delivery-status
callback is provider_events.twilio."""

import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from twilio.base.exceptions import TwilioRestException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from dispatch.channels import session_read_environment_once
from dispatch.sms import BaseSMSBackend, SMSMessage, SMSSendError

logger = logging.getLogger(__name__)
ESP_NAME = "Twilio"
API_URL = "https://api.twilio.com/"


class TwilioSMSBackend(BaseSMSBackend):
    # twilio's own HTTP client (requests) unless a subclass names another: the tests record requests with one.
    http_client: type[HttpClient] = TwilioHttpClient

    def __init__(
        self, *, account_sid: str = "", auth_token: str = "", from_number: str = "",
        messaging_service_sid: str = "", status_callback: str | None = None,
    ) -> None:  # fmt: skip
        """The server's account (TWILIO_* settings), or an org's own (providers.Provider's credentials)."""
        own = bool(account_sid or auth_token)
        self.account_sid = account_sid if own else settings.TWILIO_ACCOUNT_SID
        auth_token = auth_token if own else settings.TWILIO_AUTH_TOKEN
        self.sender = from_number if own else settings.TWILIO_FROM
        self.messaging_service_sid = messaging_service_sid if own else settings.TWILIO_MESSAGING_SERVICE_SID
        self.status_callback = (
            settings.TWILIO_STATUS_CALLBACK_URL if status_callback is None else status_callback
        )
        if not (self.account_sid and auth_token):
            raise ImproperlyConfigured("Twilio SMS needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.")
        if not (self.sender or self.messaging_service_sid):
            raise ImproperlyConfigured("Twilio SMS needs TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID.")
        # One client, so one requests session and its kept-alive connection, for as long as the backend
        # lives (dispatch.channels.Connections keeps it), reading the environment once, as for email.
        http_client = self.http_client()
        session = getattr(http_client, "session", None)
        if session is not None:
            session_read_environment_once(session, API_URL)
        self.client = Client(self.account_sid, auth_token, http_client=http_client)

    def close(self) -> None:
        # Connections closes an idle backend before making a new one: its socket must go with it.
        session = getattr(self.client.http_client, "session", None)
        if session is not None:
            session.close()

    def send(self, message: SMSMessage) -> str:
        options = {"to": message.to, "body": message.body}
        if self.messaging_service_sid:
            options["messaging_service_sid"] = self.messaging_service_sid
        else:
            options["from_"] = message.sender or self.sender
        if self.status_callback:
            options["status_callback"] = self.status_callback
        try:
            created = self.client.messages.create(**options)
        except TwilioRestException as exc:
            # Twilio's own error code (21211: not a valid 'To' number, …) says more than its HTTP status.
            raise SMSSendError(f"Twilio error {exc.code}: {exc.msg}", status_code=exc.status) from exc
        message.provider_message_id = created.sid
        return created.sid
