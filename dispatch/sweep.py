"""The sweep: what the broker or a dead worker lost goes back to the queue, and so do scheduled sends due."""

import logging
import time
import uuid
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from outbound_webhooks.subscriptions import webhook_subscriptions_load
from sends.models import Send
from sends.queue import sends_enqueue

from . import journal
from .record import OUTCOME_FIELDS, Outcome, outcomes_record

logger = logging.getLogger(__name__)
Status = Send.Status


def sends_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Re-enqueue what the broker or a worker lost, and release scheduled sends that are due.

    Runs periodically (celery beat). The schedule lives in the database, so a broker restart loses none.
    """
    now = now or timezone.now()
    lease = now - timedelta(seconds=settings.HERALD_LEASE_SECONDS)
    batch = settings.HERALD_SWEEP_BATCH

    due = _release_due(now, batch)

    # A send still `sending` past its lease lost its worker. What the worker journaled went out (or
    # failed) and is recorded from the journal now, not sent again. Within a claim, sends start in id
    # order, and one starts only while fewer than HERALD_DISPATCH_IN_FLIGHT started sends lack a journaled
    # outcome (dispatch/window.py): so of the rest only that many, the lowest ids, may have reached the
    # provider. Those are marked; the others were never attempted.
    stale = Send.objects.filter(status=Status.SENDING, claimed_at__lt=lease)
    recovered, unreadable = _recover_journaled(
        set(stale.order_by().values_list("claim_token", flat=True).distinct()[:batch])
    )
    stale = stale.exclude(claim_token__in=unreadable)
    with transaction.atomic():
        in_flight = list(
            stale.annotate(place=Window(RowNumber(), partition_by=[F("claim_token")], order_by=F("pk").asc()))
            .filter(place__lte=settings.HERALD_DISPATCH_IN_FLIGHT)
            .values_list("pk", flat=True)[:batch]
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
    if lost and broker_backlog():
        # Queued past the lease, but the broker still holds work: behind a backlog (a campaign of 100,000
        # at a few hundred a second), not lost. Published again, each would be dispatched by whichever
        # copy comes first and leave the other to a worker for nothing, and a long backlog would fill
        # the queue with copies. What the broker did lose is published once its queues have drained.
        lost = []
    Send.objects.filter(pk__in=lost, status=Status.QUEUED).update(queued_at=now)

    sends_enqueue(send_ids=[*stale_ids, *lost], on_commit=False)
    counts = {"due": due, "stale": len(stale_ids), "lost": len(lost), "recovered": recovered}
    if any(counts.values()):
        logger.info("sweep re-enqueued %s", counts)
    return counts


def broker_backlog() -> int | None:
    """Messages waiting in Herald's queues on the broker; None if it cannot be asked (then the sweep
    republishes as if the broker had lost them: a copy costs a worker a moment, a loss a send)."""
    try:
        with current_app.connection_for_read() as connection:
            channel = connection.default_channel
            # Declaring is harmless (the queues exist, or are created empty) and, unlike a passive
            # declare, does not fail for a queue the transport drops when it is empty (Redis).
            return sum(channel.queue_declare(queue=q.name).message_count for q in settings.CELERY_TASK_QUEUES)
    except Exception:  # noqa: BLE001  (a broker that does not answer is the sweep's case to handle)
        logger.warning("the broker's backlog could not be read", exc_info=True)
        return None


def _release_due(now: datetime, batch: int) -> int:
    """Queue the scheduled sends that are due, batch after batch, each enqueued as it is released.

    A send window that opens at 08:00 makes 100,000 sends due at once. One batch a sweep would release
    them at HERALD_SWEEP_BATCH per HERALD_SWEEP_INTERVAL (1,000/s by default), slower than the workers
    send; so the sweep goes on while batches come back full, for at most one interval.
    """
    released = 0
    deadline = time.monotonic() + settings.HERALD_SWEEP_INTERVAL
    while True:
        due = list(
            Send.objects.filter(status=Status.SCHEDULED, scheduled_at__lte=now)
            .order_by("scheduled_at")
            .values_list("pk", flat=True)[:batch]
        )
        Send.objects.filter(pk__in=due, status=Status.SCHEDULED).update(
            status=Status.QUEUED, queued_at=now, updated_at=now
        )
        sends_enqueue(send_ids=due, on_commit=False)
        released += len(due)
        if len(due) < batch or time.monotonic() > deadline:
            return released


def _recover_journaled(tokens: set[uuid.UUID]) -> tuple[int, set[uuid.UUID]]:
    """Record what dead claims journaled; how many, and the claims whose journal could not be read."""
    recovered, unreadable = 0, set()
    if not journal.enabled():
        return recovered, unreadable
    for token in tokens:
        try:
            entries = journal.journal_read(token=token)
        except journal.Unavailable as exc:
            # Taken back without it, a journaled send would go out again: wait until it can be read.
            logger.warning("journal of claim %s unreadable (%s); its sends wait", token, exc)
            unreadable.add(token)
            continue
        sends = list(
            Send.objects.filter(pk__in=entries, claim_token=token, status=Status.SENDING).select_related(
                "campaign"
            )
        )
        if sends:
            outcomes = [
                Outcome(s, entries[s.pk].pop("status"), {k: entries[s.pk].get(k) for k in OUTCOME_FIELDS})
                for s in sends
            ]
            recovered += len(outcomes_record(token, outcomes, webhook_subscriptions_load(sends=sends)))
    return recovered, unreadable
