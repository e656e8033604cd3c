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


KINDS: dict[str, Kind] = {
    "postmark": Kind("Postmark", Channel.EMAIL, ("server_token",), ("api_url",), ("api_url",)),
    "sendgrid": Kind("SendGrid", Channel.EMAIL, ("api_key",), ("api_url",), ("api_url",)),
    "mailgun": Kind("Mailgun", Channel.EMAIL, ("api_key",), ("api_url", "sender_domain"), ("api_url",)),
    "brevo": Kind("Brevo", Channel.EMAIL, ("api_key",), ("api_url",), ("api_url",)),
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
