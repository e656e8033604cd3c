"""Frequency caps and the de-duplication window, counted from the send log.

A campaign may allow at most `cap_sends` sends to one recipient per `cap_period_seconds` (of its own, or
of every marketing campaign of the org), and drop a repeat to a recipient with the same trigger
`dedup_key` within `dedup_seconds`. Both are judged when a trigger is accepted, counting what is waiting
as well as what went, and again when a worker claims the sends, under a lock on each recipient's row, in
the claim's own transaction: two workers cannot both find room for the last send a cap allows.
"""

import time
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import Count, Q

from campaigns.models import Campaign, CampaignKind, CapScope

from .models import Send

Status = Send.Status
# Went out, or is going: what a cap counts, and what a repeat repeats.
OCCUPIED = (Status.SENDING, Status.SENT, Status.DELIVERED, Status.BOUNCED, Status.COMPLAINED)
WAITING = (Status.QUEUED, Status.SCHEDULED)


def repeats_refused(
    sends: list[Send], *, dedup_keys: dict[int | None, str], now: datetime, waiting: bool, claim=None
) -> dict[int, tuple[str, str]]:
    """Position in `sends` -> (status, reason) of each send over its campaign's cap or repeating within its
    dedup window, judged in order. `dedup_keys` is each trigger's key; `waiting` counts queued and
    scheduled sends too (at intake); `claim` (a claim token) leaves that claim's own sends uncounted."""
    refused: dict[int, tuple[str, str]] = {}
    by_campaign: dict[int, list[int]] = {}
    for i, send in enumerate(sends):
        if send.campaign is not None and send.campaign.limits_repeats and send.recipient_id:
            by_campaign.setdefault(send.campaign.pk, []).append(i)
    for positions in by_campaign.values():
        campaign = sends[positions[0]].campaign
        recipients = {sends[i].recipient_id for i in positions}
        if campaign.dedup_seconds:
            since = now - timedelta(seconds=campaign.dedup_seconds)
            seen = set(
                _counted(Send.objects.filter(campaign=campaign), recipients, since, waiting, claim)
                .values_list("recipient_id", "trigger__dedup_key")
                .distinct()
            )
            for i in positions:
                key = (sends[i].recipient_id, dedup_keys.get(sends[i].trigger_id, ""))
                if key in seen:
                    refused[i] = (Status.DEDUPLICATED, _dedup_reason(campaign, key[1]))
                seen.add(key)
        if campaign.cap_sends and campaign.cap_period_seconds:
            since = now - timedelta(seconds=campaign.cap_period_seconds)
            scope = (
                Send.objects.filter(org_id=campaign.org_id, campaign__kind=CampaignKind.MARKETING)
                if campaign.cap_scope == CapScope.MARKETING
                else Send.objects.filter(campaign=campaign)
            )
            counts = Counter(
                dict(
                    _counted(scope, recipients, since, waiting, claim)
                    .order_by()
                    .values_list("recipient_id")
                    .annotate(n=Count("*"))
                )
            )
            for i in positions:
                if i in refused:
                    continue
                recipient = sends[i].recipient_id
                if counts[recipient] >= campaign.cap_sends:
                    refused[i] = (Status.CAPPED, _cap_reason(campaign))
                else:
                    counts[recipient] += 1
    return refused


def _counted(sends, recipients: Iterable[int], since: datetime, waiting: bool, claim):
    counted = Q(status__in=OCCUPIED, claimed_at__gte=since)
    if waiting:
        counted |= Q(status__in=WAITING, created_at__gte=since)
    sends = sends.filter(counted, recipient_id__in=recipients)
    return sends.exclude(claim_token=claim) if claim is not None else sends


def _cap_reason(campaign: Campaign) -> str:
    what = "marketing sends" if campaign.cap_scope == CapScope.MARKETING else "sends of this campaign"
    period = _duration(campaign.cap_period_seconds)
    return f"Capped: at most {campaign.cap_sends} {what} to a recipient per {period}."


def _dedup_reason(campaign: Campaign, key: str) -> str:
    return f"A repeat within {_duration(campaign.dedup_seconds)}" + (
        f" of dedup key '{key}'." if key else "."
    )


def _duration(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} seconds"


_limited: tuple[float, frozenset[int]] = (0.0, frozenset())
LIMITED_TTL_SECONDS = 10.0


def campaigns_limiting_repeats() -> frozenset[int]:
    """Ids of campaigns with a cap or a dedup window, read at most every 10 s a process: dispatch asks on
    every claim, and almost always there are none to look for."""
    global _limited
    read_at, ids = _limited
    if time.monotonic() - read_at > LIMITED_TTL_SECONDS:
        limited = Q(cap_sends__isnull=False, cap_period_seconds__isnull=False) | Q(
            dedup_seconds__isnull=False
        )
        ids = frozenset(Campaign.objects.filter(limited).values_list("pk", flat=True))
        _limited = (time.monotonic(), ids)
    return ids
