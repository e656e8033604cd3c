"""Writes to the send log that people ask for: sending again, cancelling, and a test of a mailing."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from core import metrics
from core.errors import Conflict, Problem
from mailings.models import Channel, Mailing
from orgs.models import AuditEntry
from orgs.services import actor_identity, audit_entry

from .models import Send, Trigger
from .queue import sends_enqueue

Status = Send.Status


def sends_retrigger(*, sends: Iterable[Send], actor: Any = None) -> list[Send]:
    """Send each again as a new send linked to the old one, to the recipient's current address.

    `actor` (a user, an API token or None) is who asked for it, for the audit log.
    """
    sends = list(sends)
    purged = [old.pk for old in sends if old.purged_at]
    if purged:
        raise Conflict(
            "Purged sends cannot be sent again.",
            problems=[
                Problem("id", f"Send {pk} was purged (retention or erasure): its context is gone.")
                for pk in purged
            ],
        )
    now = timezone.now()
    new_sends = []
    for old in sends:
        address = old.recipient.address_for(old.channel) if old.recipient else None
        new_sends.append(
            Send(
                org_id=old.org_id, trigger_id=old.trigger_id, campaign_id=old.campaign_id,
                mailing_id=old.mailing_id, recipient_id=old.recipient_id, retriggered_from=old,
                channel=old.channel, to_address=address or old.to_address, locale=old.locale,
                from_email=old.from_email, context=old.context, metadata=old.metadata, test=old.test,
                status=Status.QUEUED, queued_at=now, created_at=now, updated_at=now,
            )
        )  # fmt: skip
    with transaction.atomic():
        created = Send.objects.bulk_create(new_sends)
        AuditEntry.objects.bulk_create(
            audit_entry(
                actor=actor,
                action=AuditEntry.Action.SEND_RETRIGGERED,
                obj=new.retriggered_from,
                summary=f"Re-triggered as send {new.pk} to {new.channel} (campaign {new.campaign_id or '-'})",
            )  # fmt: skip
            for new in created
        )
        sends_enqueue(send_ids=[send.pk for send in created])
    return created


def send_test(*, mailing: Mailing, address: str, context: dict | None = None) -> Send:
    """A one-off send of a mailing to an address, rendered from its sample context, through the pipeline."""
    now = timezone.now()
    with transaction.atomic():
        send = Send.objects.create(
            org_id=mailing.org_id, mailing=mailing, channel=mailing.channel, to_address=address,
            context=mailing.sample_context if context is None else context, metadata={"test_send": True},
            status=Status.QUEUED, queued_at=now, created_at=now, updated_at=now,
        )  # fmt: skip
        sends_enqueue(send_ids=[send.pk])
    return send


# What no worker has claimed yet: waiting in the queue, delayed, scheduled, or waiting for a retry.
CANCELLABLE = (Status.QUEUED, Status.SCHEDULED)


@dataclass
class Cancellation:
    triggers: int  # how many triggers the request named
    cancelled: int  # sends cancelled now
    already_cancelled: int
    gone: int  # sends a worker had claimed, or that had ended otherwise, before the cancel: not cancelled


def triggers_cancel(*, triggers: QuerySet[Trigger], actor: Any = None) -> Cancellation:
    """Cancel every send of these triggers that has not been dispatched; cancelling again changes nothing.

    The claim decides a race with a worker: a worker claims only a queued send, and this takes only a
    queued or scheduled one, in one conditional UPDATE, so whichever commits first on the row wins and the
    send is either dispatched or cancelled, never both.
    """
    sends = Send.objects.filter(trigger__in=triggers.values("pk"))
    reason = f"Cancelled before it was dispatched, by {actor_identity(actor)[2]}."
    now = timezone.now()
    cancelled = 0
    with transaction.atomic():
        for channel in Channel.values:  # by channel, for the metrics' count
            n = sends.filter(channel=channel, status__in=CANCELLABLE).update(
                status=Status.CANCELLED, last_error=reason, updated_at=now
            )
            metrics.tally(metrics.send_tallies(channel, Status.CANCELLED, sends=n) if n else [])
            cancelled += n
    counts = dict(sends.order_by().values_list("status").annotate(n=Count("*")))
    total_cancelled = counts.pop(Status.CANCELLED, 0)
    return Cancellation(
        triggers=triggers.count(), cancelled=cancelled, already_cancelled=total_cancelled - cancelled,
        gone=sum(counts.values()) - sum(counts.get(s, 0) for s in CANCELLABLE),
    )  # fmt: skip
