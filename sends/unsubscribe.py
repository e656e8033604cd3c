"""One-click unsubscribe (RFC 8058): a link signed for one send, and the headers that carry it.

The token is the send's correlation id (random, not a counter) signed with SECRET_KEY: it names one
recipient, one campaign and the address the message went to, and cannot be made up for another. It needs no
login and never expires: a person may unsubscribe from a message years old. SECRET_KEY_FALLBACKS keeps links
working across a key rotation.
"""

import uuid
from urllib.parse import quote

from django.conf import settings
from django.core import signing

from campaigns.models import CampaignKind

from .models import Send

_SALT = "herald.unsubscribe"


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
