"""Dispatching a chunk: claim it, render each send, overlap the provider calls, journal each outcome as it
is known, record them together."""

import contextlib
import time
import uuid

from django.conf import settings
from django.utils import timezone

from outbound_webhooks.subscriptions import webhook_subscriptions_load
from sends.models import Send
from sends.queue import sends_enqueue

from .attempt import send_deliver, send_prepare
from .claim import attachments_by_trigger, sends_claim, suppressed_among
from .record import Outcome, Outcomes
from .routes import routes_load
from .window import Window

Status = Send.Status


def sends_dispatch(*, send_ids: list[int]) -> dict[str, int]:
    """Claim what is still queued among `send_ids`, deliver them, journal each outcome as it is known."""
    token, claimed = sends_claim(send_ids=send_ids)
    counts: dict[str, int] = {}
    if not claimed:
        return counts
    attachments = attachments_by_trigger({send.trigger_id for send in claimed if send.trigger_id})
    suppressed = suppressed_among(claimed)
    # A chunk of one (a password reset) has nothing to record together: it skips the journal's round trips.
    outcomes = Outcomes(token, webhook_subscriptions_load(sends=claimed), journaled=len(claimed) > 1)
    # Stop well inside the lease: past it the sweep takes the claim back, and a send still going out
    # here would go out twice. What is left is handed back to the queue, unmarked: it was never tried.
    # Waiting on a provider's limits stops there too.
    deadline = time.monotonic() + settings.HERALD_LEASE_SECONDS / 2
    window = Window(min(settings.HERALD_DISPATCH_IN_FLIGHT, len(claimed)), until=deadline)
    routes = routes_load(claimed, until=deadline)

    def add(done: list[Outcome]) -> None:
        for outcome in done:
            outcomes.add(outcome)
            counts[outcome.status] = counts.get(outcome.status, 0) + 1

    def stop(position: int) -> None:
        add(window.drain())
        outcomes.flush()
        _release(token, [s.pk for s in claimed[position:]])
        counts["released"] = len(claimed) - position

    try:
        for position, send in enumerate(claimed):
            if time.monotonic() > deadline:
                stop(position)
                break
            prepared = send_prepare(send, attachments.get(send.trigger_id, []), suppressed.get(send.pk))
            if isinstance(prepared, Outcome):
                add([prepared])
                continue
            add(window.room())
            outcomes.confirm()  # before another send goes out, the outcomes so far are safe
            started = window.start(send_deliver, prepared, routes.get((send.org_id, send.channel)))
            if started is None:  # its provider's limits kept it from starting before the deadline
                stop(position)
                break
            add(started)
        add(window.drain())
        outcomes.finish()
    except BaseException:
        # What went out is recorded now if the database lets us; if not, the sweep finds it in the journal.
        with contextlib.suppress(Exception):
            outcomes.flush()
        raise
    return counts


def _release(token: uuid.UUID, send_ids: list[int]) -> None:
    now = timezone.now()
    Send.objects.filter(pk__in=send_ids, claim_token=token, status=Status.SENDING).update(
        status=Status.QUEUED, claim_token=None, queued_at=now, updated_at=now
    )
    sends_enqueue(send_ids=send_ids, on_commit=False)
