"""Sending through one of an org's provider accounts (providers.Provider): the backend of its kind, given
the account's options and credentials as the backend's own settings, not the server's."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from providers.models import Provider, status_callback_url

from .sms import SMSMessage
from .twilio import TwilioSMSBackend

EMAIL_BACKENDS = {
    "postmark": "anymail.backends.postmark.EmailBackend",
    "sendgrid": "anymail.backends.sendgrid.EmailBackend",
    "mailgun": "anymail.backends.mailgun.EmailBackend",
    "brevo": "anymail.backends.brevo.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
}


def email_connection(provider: Provider):
    """A connection of the account's backend (Anymail takes each setting as a keyword, as does SMTP's)."""
    return get_connection(
        EMAIL_BACKENDS[provider.kind], fail_silently=False, **provider.options, **provider.credentials
    )


def provider_test_send(provider: Provider, to: str) -> str:
    """A short message to `to` (an address, or a number for SMS) through `provider` alone; the provider's
    message id."""
    if provider.channel == "sms":
        text = f"Herald: a test through {provider.name} ({provider.get_kind_display()})."
        return sms_connection(provider).send(SMSMessage(to=to, body=text))
    message = EmailMultiAlternatives(
        subject=f"Herald: a test through {provider.name}",
        body=f"This message went through {provider.name} ({provider.get_kind_display()}), as a test.",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        connection=email_connection(provider),
    )
    message.send()
    status = getattr(message, "anymail_status", None)
    return str(status.message_id) if status is not None and status.message_id else "accepted"


def sms_connection(provider: Provider):
    """The Twilio backend on the account's own credentials and sender; its status callbacks name it, so
    they are checked with its token and move only its org's sends (provider_events.twilio)."""
    return TwilioSMSBackend(
        **provider.options, **provider.credentials, status_callback=status_callback_url(provider)
    )
