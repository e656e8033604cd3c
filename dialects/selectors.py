"""The reads the dialects need that the core has no use for: links, hashed addresses, audiences, sends.

Every read is within one org, except the link lookup, where the link itself is the credential.
"""

import re
import uuid

import xxhash
from django.db.models import Q
from django.db.models.functions import MD5

from campaigns.models import Campaign
from core.errors import NotFound
from dialects.common import is_digits
from orgs.models import ApiToken, Org
from recipients.models import Recipient
from sends.models import Send

_LINK_ID = re.compile(r"[0-9A-Fa-f]{1,64}")


def campaign_by_link(*, link_id: str) -> Campaign:
    # A link id is hex (Campaign.link_id): anything else names no campaign, and a NUL in it would be an
    # error from PostgreSQL rather than a 404.
    if not _LINK_ID.fullmatch(link_id):
        raise NotFound("No trigger has this link.")
    campaign = (
        Campaign.objects.select_related("org", "email_mailing", "sms_mailing").filter(link_id=link_id).first()
    )
    if campaign is None:
        raise NotFound("No trigger has this link.")
    return campaign


def recipients_matching(*, org: Org, query: Q, limit: int) -> list[Recipient]:
    # The org filter stands on its own, so an $or in the query can never widen it.
    return list(Recipient.objects.filter(org=org).filter(query).order_by("pk")[:limit])


def recipient_by_email_md5(*, org: Org, digest: str) -> Recipient | None:
    """md5() in PostgreSQL over the org's addresses: a scan of one org's recipients, no data leaves the DB."""
    return (
        Recipient.objects.filter(org=org, email__isnull=False)
        .annotate(email_md5=MD5("email"))
        .filter(email_md5=digest.lower())
        .order_by("pk")
        .first()
    )


def recipient_by_email_xxh64(*, org: Org, digest: str) -> Recipient | None:
    """PostgreSQL has no xxHash: the org's addresses are streamed and hashed here, a few seconds a million."""
    digest = digest.lower()
    rows = Recipient.objects.filter(org=org, email__isnull=False).order_by("pk").values_list("pk", "email")
    for pk, email in rows.iterator(chunk_size=5000):
        if xxhash.xxh64_hexdigest(email.encode()) == digest:
            return Recipient.objects.get(pk=pk)
    return None


def send_get(*, org: Org, send_id: str, channel: str | None = None, campaign: Campaign | None = None) -> Send:
    """A send of this org by its id or its correlation id (a UUID), optionally of one channel or campaign."""
    sends = Send.objects.filter(org=org).select_related("recipient", "campaign", "trigger")
    if is_digits(send_id):
        sends = sends.filter(pk=int(send_id))
    else:
        try:
            sends = sends.filter(correlation_id=uuid.UUID(send_id))
        except ValueError as exc:
            raise NotFound(f"No message with id '{send_id}'.") from exc
    if channel is not None:
        sends = sends.filter(channel=channel)
    if campaign is not None:
        sends = sends.filter(campaign=campaign)
    send = sends.first()
    if send is None:
        raise NotFound(f"No message with id '{send_id}'.")
    return send


def sends_by_ids(*, send_ids: list[int]) -> list[Send]:
    return list(Send.objects.filter(pk__in=send_ids).order_by("pk"))


def active_token(*, token_id: int, org_id: int) -> ApiToken | None:
    return (
        ApiToken.objects.select_related("org")
        .filter(pk=token_id, org_id=org_id, revoked_at__isnull=True)
        .first()
    )
