"""Trigger intake: validate a whole batch, then store the trigger and its sends in one transaction."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.windows import hold_reason, next_opening
from core import metrics
from core.bulk import built, insert_returning
from core.errors import Conflict, Problem
from mailings.models import Channel
from orgs.models import ApiToken, Org
from recipients.models import Recipient
from sends.caps import repeats_refused
from sends.models import Send, Trigger
from sends.queue import sends_enqueue

from .commands import TriggerCommand
from .plan import Planned, recipient_match, recipients_lookup, trigger_plan

logger = logging.getLogger("herald.triggers")


@dataclass
class TriggerResult:
    trigger: Trigger
    sends: list[Send]
    replayed: bool = False


def trigger_accept(
    *,
    org: Org,
    campaign: Campaign,
    command: TriggerCommand,
    token: ApiToken | None = None,
    idempotency_key: str | None = None,
    fingerprint: str = "",
    max_batch: int | None = None,
) -> TriggerResult:
    """Accept a trigger whole or not at all: every problem is reported, and nothing is stored on any.

    `max_batch` bounds the recipients where the caller is not an API (a list upload); APIs leave it unset.
    """
    if idempotency_key:
        replay = _replay(org, idempotency_key, fingerprint)
        if replay is not None:
            return replay
    if campaign.status == Campaign.Status.PAUSED:
        raise Conflict(
            f"Campaign '{campaign.key}' is paused.",
            problems=[Problem("campaign", "The campaign is paused; resume it to trigger sends.")],
        )
    plan = trigger_plan(org, campaign, command, max_batch=max_batch)
    try:
        with transaction.atomic():
            result = _store(org, campaign, command, plan, token, idempotency_key, fingerprint)
    except IntegrityError:
        # Another request with the same Idempotency-Key committed first: answer what it answered.
        replay = _replay(org, idempotency_key, fingerprint) if idempotency_key else None
        if replay is None:
            raise
        return replay
    _log_accepted(result, command)
    return result


def _log_accepted(result: TriggerResult, command: TriggerCommand) -> None:
    trigger, sends = result.trigger, result.sends
    logger.info(
        "trigger %s accepted: %s sends of campaign %s", trigger.pk, len(sends), trigger.campaign.key,
        extra={
            "event": "trigger.accepted", "org": trigger.org_id, "campaign": trigger.campaign_id,
            "campaign_key": trigger.campaign.key, "trigger": trigger.pk, "source": command.source,
            "reference": command.reference, "sends": len(sends), "test": bool(sends) and sends[0].test,
            "scheduled_at": trigger.send_at,
            # Enough to follow a single send or a small batch; a large one is found by its trigger id.
            "correlation_ids": [str(send.correlation_id) for send in sends[:10]],
        },
    )  # fmt: skip
    metrics.count("herald_triggers_accepted", command.source)


def _replay(org: Org, idempotency_key: str, fingerprint: str) -> TriggerResult | None:
    trigger = Trigger.objects.filter(org=org, idempotency_key=idempotency_key).first()
    if trigger is None:
        return None
    if trigger.request_fingerprint != fingerprint:
        raise Conflict(
            "This Idempotency-Key was already used with a different request.",
            problems=[Problem("Idempotency-Key", "Used before with a different body; use a new key.")],
        )
    return TriggerResult(trigger=trigger, sends=list(trigger.sends.order_by("pk")), replayed=True)


def _store(
    org: Org,
    campaign: Campaign,
    command: TriggerCommand,
    planned: list[Planned],
    token: ApiToken | None,
    idempotency_key: str | None,
    fingerprint: str,
) -> TriggerResult:
    now = timezone.now()
    _create_recipients(org, [p for p in planned if p.recipient is None])
    delay = command.delay if command.delay is not None else campaign.delay_seconds
    send_at = command.send_at or (now + timedelta(seconds=delay) if delay else None)
    timing = _timing(org, campaign, send_at if send_at is not None and send_at > now else None, now)
    trigger = Trigger.objects.create(
        org=org, campaign=campaign, token=token, source=command.source, reference=command.reference,
        cancellation_key=command.cancellation_key, dedup_key=command.dedup_key,
        context=command.context, channel=command.channel or "", locale=command.locale or "",
        attachments=[vars(a) for a in command.attachments], send_at=send_at, expires_at=command.expires_at,
        idempotency_key=idempotency_key or None, request_fingerprint=fingerprint,
        send_count=sum(len(p.addresses) for p in planned), created_at=now,
    )  # fmt: skip
    mailing_ids = {channel: getattr(campaign.mailing_for(channel), "pk", None) for channel in Channel.values}
    sends = built(
        Send,
        (
            dict(
                org_id=org.pk,
                trigger_id=trigger.pk,
                campaign_id=campaign.pk,
                mailing_id=mailing_ids[channel],
                recipient_id=p.recipient.pk,
                channel=channel,
                to_address=address,
                locale=command.locale or p.spec.locale or p.recipient.locale,
                from_email=command.from_email or "",
                context=p.context,
                metadata=command.metadata,
                test=token is not None and token.test,
                expires_at=command.expires_at,
                created_at=now,
                updated_at=now,
                **timing(p),
            )  # fmt: skip
            for p in planned
            for channel, address in p.addresses.items()
        ),
    )
    if campaign.limits_repeats:
        _refuse_repeats(campaign, trigger, sends, now)
    _insert(sends)
    queued = [s.pk for s in sends if s.status == Send.Status.QUEUED]
    if queued:
        sends_enqueue(send_ids=queued)
    return TriggerResult(trigger=trigger, sends=sends)


def _refuse_repeats(campaign: Campaign, trigger: Trigger, sends: list[Send], now: datetime) -> None:
    """Sends over the campaign's cap, or repeating within its dedup window, end at once with the reason:
    they are in the trigger's answer and the send log, never silently dropped."""
    for send in sends:
        Send.campaign.field.set_cached_value(send, campaign)
    refused = repeats_refused(sends, dedup_keys={trigger.pk: trigger.dedup_key}, now=now, waiting=True)
    for i, (status, reason) in refused.items():
        sends[i].status, sends[i].last_error = status, reason
        sends[i].queued_at = sends[i].scheduled_at = None
        sends[i].held = ""


def _timing(org: Org, campaign: Campaign, due: datetime | None, now: datetime):
    """When each recipient's sends go: at `due` (None: now), or when the campaign's window next opens in
    the recipient's zone, whichever is later."""
    windows = campaign.windows
    at_once = {"status": Send.Status.QUEUED, "queued_at": now}
    later = {"status": Send.Status.SCHEDULED, "scheduled_at": due} if due else at_once
    if not windows:
        return lambda planned: later
    openings: dict[str, dict] = {}  # by zone: a batch's recipients share a few

    def timing(planned: Planned) -> dict:
        zone = planned.spec.timezone or planned.recipient.timezone or org.timezone
        if zone not in openings:
            opening = next_opening(windows, zone, due or now)
            openings[zone] = {**later, "timezone": zone} if opening is None else {
                "status": Send.Status.SCHEDULED, "scheduled_at": opening, "timezone": zone,
                "held": hold_reason(windows, zone),
            }  # fmt: skip
        return openings[zone]

    return timing


def _create_recipients(org: Org, planned: list[Planned]) -> None:
    """Create the new recipients in one insert; find again only those a concurrent trigger created first."""
    if not planned:
        return
    new: dict[tuple[str, str], Recipient] = {}
    for p in planned:
        spec = p.spec
        new.setdefault(
            p.key,
            Recipient(
                org=org, email=spec.email, phone=spec.phone, external_id=spec.external_id,
                first_name=spec.first_name or "", last_name=spec.last_name or "", locale=spec.locale or "",
                timezone=spec.timezone or "", attributes=spec.attributes or {},
            ),
        )  # fmt: skip
    if connection.vendor == "postgresql":
        rows = insert_returning(list(new.values()), returning=_KEYS, skip_conflicts=True)
        ids = {(kind, row[i + 1]): row[0] for row in rows for i, kind in enumerate(_KEYS[1:]) if row[i + 1]}
        for key, recipient in new.items():
            recipient.pk = ids.get(key)
            recipient._state.adding = recipient.pk is None
    else:
        Recipient.objects.bulk_create(new.values(), ignore_conflicts=True)
    missing = [p for p in planned if new[p.key].pk is None]
    existing = recipients_lookup(org, [p.spec for p in missing]) if missing else {}
    for p in planned:
        p.recipient = new[p.key] if new[p.key].pk is not None else recipient_match(p.spec, existing)[0]
        if p.recipient is None:  # pragma: no cover - only if a concurrent erase removed it
            raise Conflict("A recipient changed while the trigger was accepted; try again.")


_KEYS = ("id", "external_id", "email", "phone")


def _insert(sends: list[Send]) -> None:
    """The trigger's sends in one statement; each gets its id."""
    if connection.vendor != "postgresql":
        Send.objects.bulk_create(sends)
        return
    for send, (pk,) in zip(sends, insert_returning(sends), strict=True):
        send.pk = pk
        send._state.adding = False
