"""Reads about campaigns that more than one caller needs."""

from core.errors import NotFound
from orgs.models import Org

from .models import Campaign


def campaign_get(*, org: Org, key: str | None = None, **lookup) -> Campaign:
    if key is not None:
        lookup["key"] = key
    campaign = (
        Campaign.objects.select_related("email_mailing", "sms_mailing").filter(org=org, **lookup).first()
    )
    if campaign is None:
        raise NotFound("No such campaign.")
    return campaign
