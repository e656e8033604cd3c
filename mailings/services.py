"""The dispatch pipeline: claim sends, render, deliver, record each outcome as it happens; the sweep."""

import base64
import contextlib
import logging
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Min
from django.utils import timezone

from orgs.errors import Conflict, Problem
from orgs.models import AuditEntry
from orgs.services import actor_identity, audit_entry, audit_record
from recipients.selectors import suppressions_for

from .delivery import Attachment, Connections, PermanentFailure, TransientFailure, deliver
from .models import Mailing, Send, SendAttempt
from .observe import send_outcome
from .rendering import RenderError, render_mailing, template_data
from .unsubscribe import is_marketing, unsubscribe_url
from .versions import mailing_version_record
from .webhooks import (
    Subscriptions,
    webhook_deliveries_build,
    webhook_deliveries_save,
    webhook_subscriptions_load,
)

logger = logging.getLogger(__name__)
Status = Send.Status


def sends_enqueue(*, send_ids: Iterable[int], on_commit: bool = True) -> None:
    """Queue dispatch work in chunks. After commit, so a worker never looks for a row not yet there."""
    ids = list(send_ids)
    if not ids:
        return

    def publish() -> None:
        from .tasks import dispatch_sends

        size = settings.HERALD_CHUNK_SIZE
        for start in range(0, len(ids), size):
            dispatch_sends.delay(ids[start : start + size])

    if on_commit:
        # robust: a broker outage must not turn an accepted, committed trigger into an error; the sweep
        # re-enqueues whatever was not published.
        transaction.on_commit(publish, robust=True)
    else:
        publish()


def sends_dispatch(*, send_ids: list[int]) -> dict[str, int]:
    """Claim what is still queued among `send_ids`, deliver each, and record each outcome at once."""
    token, claimed = _claim(send_ids)
    outcomes: dict[str, int] = {}
    if not claimed:
        return outcomes
    attachments = _attachments_by_trigger({send.trigger_id for send in claimed if send.trigger_id})
    suppressed = _suppressed(claimed)
    subscriptions = webhook_subscriptions_load(sends=claimed)
    # Stop well inside the lease: past it the sweep takes the claim back, and a send still going out
    # here would go out twice. What is left is handed back to the queue, unmarked: it was never tried.
    deadline = time.monotonic() + settings.HERALD_LEASE_SECONDS / 2
    connections = Connections()
    try:
        for position, send in enumerate(claimed):
            if time.monotonic() > deadline:
                _release(token, [s.pk for s in claimed[position:]])
                outcomes["released"] = len(claimed) - position
                break
            status = _dispatch_one(
                send, token, attachments.get(send.trigger_id, []), connections, suppressed.get(send.pk),
                subscriptions,
            )  # fmt: skip
            outcomes[status] = outcomes.get(status, 0) + 1
    finally:
        connections.close()
    return outcomes


def _release(token: uuid.UUID, send_ids: list[int]) -> None:
    now = timezone.now()
    Send.objects.filter(pk__in=send_ids, claim_token=token, status=Status.SENDING).update(
        status=Status.QUEUED, claim_token=None, queued_at=now, updated_at=now
    )
    sends_enqueue(send_ids=send_ids, on_commit=False)


def _claim(send_ids: list[int]) -> tuple[uuid.UUID, list[Send]]:
    # One conditional UPDATE claims the chunk: a row another worker claimed first no longer matches
    # status=queued, so a duplicate task finds nothing to do.
    token = uuid.uuid4()
    now = timezone.now()
    count = Send.objects.filter(pk__in=send_ids, status=Status.QUEUED).update(
        status=Status.SENDING, claim_token=token, claimed_at=now, attempts=F("attempts") + 1, updated_at=now
    )
    if not count:
        return token, []
    claimed = list(
        Send.objects.filter(claim_token=token, status=Status.SENDING)
        .select_related("mailing", "recipient", "campaign")
        .order_by("pk")
    )
    return token, claimed


def _attachments_by_trigger(trigger_ids: set[int]) -> dict[int, list[Attachment]]:
    if not trigger_ids:
        return {}
    Trigger = Send._meta.get_field("trigger").related_model
    found = {}
    for trigger_id, items in Trigger.objects.filter(pk__in=trigger_ids).values_list("pk", "attachments"):
        found[trigger_id] = [
            Attachment(item["filename"], item["content_type"], base64.b64decode(item["content"]))
            for item in items or []
        ]
    return found


def _suppressed(sends: list[Send]) -> dict[int, str]:
    """Send id -> suppression reason, for the sends that must not go: one query for the whole chunk."""
    # A transactional-critical campaign (a password reset) goes even to a suppressed address.
    checked = [s for s in sends if not (s.campaign is not None and s.campaign.transactional_critical)]
    found = suppressions_for(wanted={(s.org_id, s.to_address) for s in checked})
    return {
        s.pk: found[(s.org_id, s.to_address)].reason
        for s in checked
        if (s.org_id, s.to_address) in found
        and found[(s.org_id, s.to_address)].applies_to(marketing=is_marketing(s))
    }


def _dispatch_one(
    send: Send,
    token: uuid.UUID,
    attachments: list[Attachment],
    connections: Connections,
    suppressed_because: str | None = None,
    subscriptions: Subscriptions | None = None,
) -> str:
    now = timezone.now()
    if send.expires_at and send.expires_at <= now:
        _record(
            send, token, subscriptions, status=Status.EXPIRED, last_error="Not dispatched before it expired."
        )
        return Status.EXPIRED
    if suppressed_because:
        error = f"{send.to_address} is suppressed for this org ({suppressed_because}); not dispatched."
        _record(send, token, subscriptions, status=Status.SUPPRESSED, last_error=error)
        return Status.SUPPRESSED
    if send.mailing is None:
        _record(send, token, subscriptions, status=Status.FAILED, last_error="The mailing was deleted.")
        return Status.FAILED
    recipient = send.recipient.as_template_data() if send.recipient else {send.channel: send.to_address}
    try:
        rendered = render_mailing(
            send.mailing,
            locale=send.locale,
            data=template_data(
                recipient=recipient, context=send.context, unsubscribe_url=unsubscribe_url(send)
            ),
        )
    except RenderError as exc:
        _record(send, token, subscriptions, status=Status.FAILED, last_error=f"Template error in {exc}")
        return Status.FAILED
    content = {
        "subject": rendered.subject, "text": rendered.text, "html": rendered.html,
        "mailing_version": send.mailing.version or None,
    }  # fmt: skip
    try:
        message_id = deliver(send, rendered, attachments, connections)
    except PermanentFailure as exc:
        _record(send, token, subscriptions, status=Status.FAILED, last_error=str(exc), **content)
        return Status.FAILED
    except TransientFailure as exc:
        if send.attempts >= settings.HERALD_MAX_ATTEMPTS:
            error = f"Gave up after {send.attempts} attempts: {exc}"
            _record(send, token, subscriptions, status=Status.FAILED, last_error=error, **content)
            return Status.FAILED
        retry_at = now + timedelta(seconds=retry_delay(send.attempts, exc.retry_after))
        _record(
            send,
            token,
            subscriptions,
            status=Status.SCHEDULED,
            scheduled_at=retry_at,
            last_error=str(exc),
            **content,
        )
        return Status.SCHEDULED
    _record(
        send, token, subscriptions, status=Status.SENT, sent_at=timezone.now(),
        provider_message_id=message_id, last_error="", **content,
    )  # fmt: skip
    return Status.SENT


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    delay = min(
        settings.HERALD_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), settings.HERALD_RETRY_MAX_SECONDS
    )
    return max(delay, retry_after or 0)


def _record(send: Send, token: uuid.UUID, subscriptions: Subscriptions | None = None, **fields) -> bool:
    """Write what became of a send; whether its status moved. Webhook deliveries commit with the outcome."""
    # Only while this claim holds: a send the sweep took back and another worker claimed is not ours.
    fields.setdefault("claim_token", None)
    fields["updated_at"] = timezone.now()
    status = fields.pop("status", None)
    ours = Send.objects.filter(pk=send.pk, claim_token=token)
    notifications = []
    if subscriptions and status:
        notifications = webhook_deliveries_build(
            subscriptions=subscriptions, send=send, status=status, error=fields.get("last_error", "")
        )
    # A transaction only where there is a notification to write with the outcome: none costs nothing extra.
    with transaction.atomic() if notifications else contextlib.nullcontext():
        # The status only over `sending`: a tracking webhook may have overtaken the worker (delivered,
        # bounced) and its news is later than this outcome (see mailings.events). The rest is written anyway.
        moved = status is not None and ours.filter(status=Status.SENDING).update(status=status, **fields) == 1
        if not moved:
            ours.update(**fields)
        elif notifications:
            webhook_deliveries_save(deliveries=notifications)
    if moved:
        send_outcome(send, status, fields)
    if status and fields.get("last_error"):
        # Only attempts that went wrong leave a row: the happy path writes nothing more.
        SendAttempt.objects.create(
            send_id=send.pk, number=send.attempts, outcome=status, error=fields["last_error"]
        )
    return moved


def sends_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Re-enqueue what the broker or a worker lost, and release scheduled sends that are due.

    Runs periodically (celery beat). The schedule lives in the database, so a broker restart loses none.
    """
    now = now or timezone.now()
    lease = now - timedelta(seconds=settings.HERALD_LEASE_SECONDS)
    batch = settings.HERALD_SWEEP_BATCH

    due = list(
        Send.objects.filter(status=Status.SCHEDULED, scheduled_at__lte=now)
        .order_by("scheduled_at")
        .values_list("pk", flat=True)[:batch]
    )
    Send.objects.filter(pk__in=due, status=Status.SCHEDULED).update(
        status=Status.QUEUED, queued_at=now, updated_at=now
    )

    # A send still `sending` past its lease lost its worker. Within a claim, sends are delivered in id
    # order and each outcome is recorded at once, so only the lowest id still `sending` may have reached
    # the provider: that one is marked, the others were never attempted.
    with transaction.atomic():
        stale = Send.objects.filter(status=Status.SENDING, claimed_at__lt=lease)
        in_flight = list(
            stale.values("claim_token").annotate(first=Min("pk")).values_list("first", flat=True)[:batch]
        )
        stale_ids = list(stale.values_list("pk", flat=True)[:batch])
        Send.objects.filter(pk__in=in_flight, status=Status.SENDING).update(possibly_duplicated=True)
        Send.objects.filter(pk__in=stale_ids, status=Status.SENDING).update(
            status=Status.QUEUED, claim_token=None, queued_at=now, updated_at=now
        )

    lost = list(
        Send.objects.filter(status=Status.QUEUED, queued_at__lt=lease)
        .order_by("queued_at")
        .values_list("pk", flat=True)[:batch]
    )
    Send.objects.filter(pk__in=lost, status=Status.QUEUED).update(queued_at=now)

    sends_enqueue(send_ids=[*due, *stale_ids, *lost], on_commit=False)
    counts = {"due": len(due), "stale": len(stale_ids), "lost": len(lost)}
    if any(counts.values()):
        logger.info("sweep re-enqueued %s", counts)
    return counts


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


def mailing_delete(*, mailing: Mailing, actor: Any = None) -> None:
    """Delete a mailing, and log it; a mailing a campaign sends is protected (models.ProtectedError)."""
    with transaction.atomic():
        summary = f"{mailing.name} deleted"
        audit_record(actor=actor, action=AuditEntry.Action.MAILING_DELETED, obj=mailing, summary=summary)
        mailing.delete()


def mailing_update(*, mailing: Mailing, changes: dict[str, Any], actor: Any = None) -> Mailing:
    """Change a mailing (already validated): a new version, and an audit entry naming the changed fields."""
    for name, value in changes.items():
        setattr(mailing, name, value)
    with transaction.atomic():
        stored = Mailing.objects.select_for_update().get(pk=mailing.pk)
        changed = sorted(name for name, value in changes.items() if getattr(stored, name) != value)
        mailing.save()
        user, _, name = actor_identity(actor)
        mailing_version_record(mailing=mailing, saved_by=user, source="admin" if user else name)
        if changed:
            audit_record(
                actor=actor, action=AuditEntry.Action.MAILING_CHANGED, obj=mailing,
                summary=f"{mailing.name}: changed {', '.join(changed)}",
            )  # fmt: skip
    return mailing


def mailing_test_send(*, mailing, address: str, context: dict | None = None) -> Send:
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
