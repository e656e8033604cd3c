"""The kinds of provider an org can configure: for each, its channel, the credentials it needs (stored
encrypted) and the options it may have (stored plain). The backends that send through them are dispatch's.
"""

from dataclasses import dataclass

from mailings.models import Channel


@dataclass(frozen=True)
class Kind:
    label: str
    channel: str
    secrets: tuple[str, ...]  # every one required
    options: tuple[str, ...] = ()  # any of them
    urls: tuple[str, ...] = ()  # options that name a URL, or a host: checked against private networks
    optional_secrets: tuple[str, ...] = ()
    # Anymail's view for the account's delivery events, which it posts to the provider's own tracking URL
    # (provider_events.org_tracking); none for a kind that posts none, or signs its own (Twilio).
    tracking: str = ""


KINDS: dict[str, Kind] = {
    "postmark": Kind(
        "Postmark",
        Channel.EMAIL,
        ("server_token",),
        ("api_url",),
        ("api_url",),
        tracking="anymail.webhooks.postmark.PostmarkTrackingWebhookView",
    ),
    "sendgrid": Kind(
        "SendGrid",
        Channel.EMAIL,
        ("api_key",),
        ("api_url",),
        ("api_url",),
        tracking="anymail.webhooks.sendgrid.SendGridTrackingWebhookView",
    ),
    # Mailgun signs its webhooks with the account's webhook signing key (the API key on older accounts).
    "mailgun": Kind(
        "Mailgun",
        Channel.EMAIL,
        ("api_key",),
        ("api_url", "sender_domain"),
        ("api_url",),
        optional_secrets=("webhook_signing_key",),
        tracking="anymail.webhooks.mailgun.MailgunTrackingWebhookView",
    ),
    "brevo": Kind(
        "Brevo",
        Channel.EMAIL,
        ("api_key",),
        ("api_url",),
        ("api_url",),
        tracking="anymail.webhooks.brevo.BrevoTrackingWebhookView",
    ),
    "smtp": Kind(
        "SMTP server",
        Channel.EMAIL,
        ("password",),
        ("host", "port", "username", "use_tls", "use_ssl"),
        ("host",),
    ),
    "twilio": Kind(
        "Twilio", Channel.SMS, ("account_sid", "auth_token"), ("from_number", "messaging_service_sid")
    ),  # fmt: skip
}

KIND_CHOICES = [(name, kind.label) for name, kind in KINDS.items()]
