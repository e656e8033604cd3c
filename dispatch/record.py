"""Recording outcomes: journaled one by one as they happen, written to the send log together, set-based."""

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from core import metrics
from core.bulk import execute_arrays
from outbound_webhooks.subscriptions import (
    Subscriptions,
    webhook_deliveries_build,
    webhook_deliveries_save,
    webhook_subscriptions_load,
)
from sends.models import Send, SendAttempt

from . import journal
from .observe import outcome_tallies, send_outcome

logger = logging.getLogger(__name__)
Status = Send.Status


@dataclass
class Outcome:
    """What became of one send: its new status (None: leave it) and the fields to record with it."""

    send: Send
    status: str | None
    fields: dict
    retry_after: float | None = None  # what the provider asked, with a 429 or a 503: not recorded


# What an outcome may write besides its status; a None among them leaves the column as it is.
OUTCOME_FIELDS = (
    "sent_at", "provider_message_id", "last_error", "scheduled_at", "subject", "text", "html",
    "mailing_version", "held", "provider", "failover",
)  # fmt: skip


class Outcomes:
    """A claim's outcomes: each journaled before the next send goes out, all recorded together.

    Without a journal (no Redis configured, or Redis not answering) each outcome is recorded on its own
    the moment it is known, as the promise needs: then only the send in flight can be lost.
    """

    FLUSH_SECONDS = 1.0  # a slow provider still shows progress in the send log

    def __init__(self, token: uuid.UUID, subscriptions: Subscriptions | None, *, journaled: bool = True):
        self.token = token
        self.subscriptions = subscriptions
        self.pending: list[Outcome] = []
        self.journaled = journaled and journal.enabled()
        self.written = False
        self.unconfirmed: Callable[[], bool] | None = None
        self.flushed_at = time.monotonic()

    def add(self, outcome: Outcome) -> None:
        self.pending.append(outcome)
        if self.journaled:
            self.confirm()  # one write in flight at a time: replies are read in order
        if self.journaled:
            self.unconfirmed = journal.journal_write(
                token=self.token, send_id=outcome.send.pk, first=not self.written,
                outcome={"status": outcome.status, **outcome.fields},
            )  # fmt: skip
            self.written = True
        if not self.journaled or time.monotonic() - self.flushed_at > self.FLUSH_SECONDS:
            self.flush()

    def confirm(self) -> None:
        """Called before the next send goes out: the outcomes so far are in the journal or the send log."""
        if self.unconfirmed is None:
            return
        try:
            rewritten = self.unconfirmed()
        except journal.Unavailable as exc:
            logger.warning("journal unavailable (%s): recording each outcome at once", exc)
            self.unconfirmed, self.journaled = None, False
            self.flush()
            return
        self.unconfirmed = None
        if rewritten:  # on a new connection: a Redis that restarted may have lost the outcomes before it
            self.flush()

    def flush(self) -> None:
        self.confirm()  # also keeps a reply from being left unread on the journal's connection
        if self.pending:
            outcomes_record(self.token, self.pending, self.subscriptions)
            self.pending = []
        self.flushed_at = time.monotonic()

    def finish(self) -> None:
        self.flush()
        if self.written:
            journal.journal_forget(token=self.token)


def outcome_record(
    *, send: Send, token: uuid.UUID, status: str | None, subscriptions: Subscriptions | None = None, **fields
) -> bool:
    """Write what became of one send of a claim; whether its status moved. For one outcome known on its own
    (a dialect's synchronous send; a worker's late answer): a chunk records its outcomes together."""
    if subscriptions is None:
        subscriptions = webhook_subscriptions_load(sends=[send])
    return send.pk in outcomes_record(token, [Outcome(send, status, fields)], subscriptions)


def outcomes_record(
    token: uuid.UUID, outcomes: list[Outcome], subscriptions: Subscriptions | None = None
) -> set[int]:
    """Write what became of these sends of one claim; the ids whose status moved.

    Webhook deliveries, and what the metrics count, commit with the outcomes they tell of.
    """
    notifications = {}
    if subscriptions:
        for o in outcomes:
            if o.status:
                built = webhook_deliveries_build(
                    subscriptions=subscriptions, send=o.send, status=o.status,
                    error=o.fields.get("last_error") or "",
                )  # fmt: skip
                if built:
                    notifications[o.send.pk] = built
    # The notifications and the metrics' counts commit with the outcomes they tell of.
    with transaction.atomic():
        if connection.vendor == "postgresql":
            moved = _write_outcomes_at_once(token, outcomes)
        else:
            moved = {o.send.pk for o in outcomes if _write_outcome(token, o)}
        deliveries = [d for pk in moved for d in notifications.get(pk, ())]
        if deliveries:
            webhook_deliveries_save(deliveries=deliveries)
        metrics.tally(t for o in outcomes if o.send.pk in moved for t in outcome_tallies(o.send, o.status))
    # Only attempts that went wrong leave a row: the happy path writes nothing more.
    failed = [o for o in outcomes if o.status and o.fields.get("last_error")]
    if failed:
        SendAttempt.objects.bulk_create(
            SendAttempt(
                send_id=o.send.pk, number=o.send.attempts, outcome=o.status, error=o.fields["last_error"]
            )
            for o in failed
        )
    for o in outcomes:
        if o.send.pk in moved:
            send_outcome(o.send, o.status, o.fields)
    return moved


def _write_outcome(token: uuid.UUID, outcome: Outcome) -> bool:
    """One send's outcome, by the ORM, where the database is not PostgreSQL (SQLite for `make run`)."""
    fields = {name: value for name, value in outcome.fields.items() if value is not None}
    fields.update(claim_token=None, updated_at=timezone.now())
    # Only while this claim holds: a send the sweep took back and another worker claimed is not ours.
    ours = Send.objects.filter(pk=outcome.send.pk, claim_token=token)
    # The status only over `sending`: a tracking webhook may have overtaken the worker (delivered,
    # bounced) and its news is later than this outcome (provider_events.tracking). The rest is written anyway.
    moved = outcome.status is not None and (
        ours.filter(status=Status.SENDING).update(status=outcome.status, **fields) == 1
    )
    if not moved:
        ours.update(**fields)
    return moved


_WRITE_OUTCOMES = f"""
WITH v AS (
    SELECT * FROM unnest(
        %b::bigint[], %b::varchar[], %b::timestamptz[], %b::varchar[], %b::text[], %b::timestamptz[],
        %b::text[], %b::text[], %b::text[], %b::integer[], %b::varchar[], %b::varchar[], %b::text[]
    ) AS v(id, status, sent_at, provider_message_id, last_error, scheduled_at, subject, text, html,
           mailing_version, held, provider, failover)
), ours AS (
    SELECT s.id, (s.status = 'sending' AND v.status IS NOT NULL) AS moves
    FROM {Send._meta.db_table} s JOIN v ON v.id = s.id
    WHERE s.claim_token = %b
    ORDER BY s.id
    FOR UPDATE OF s
)
UPDATE {Send._meta.db_table} s SET
    status = CASE WHEN ours.moves THEN v.status ELSE s.status END,
    sent_at = COALESCE(v.sent_at, s.sent_at),
    provider_message_id = COALESCE(v.provider_message_id, s.provider_message_id),
    last_error = COALESCE(v.last_error, s.last_error),
    scheduled_at = COALESCE(v.scheduled_at, s.scheduled_at),
    subject = COALESCE(v.subject, s.subject),
    text = COALESCE(v.text, s.text),
    html = COALESCE(v.html, s.html),
    mailing_version = COALESCE(v.mailing_version, s.mailing_version),
    held = COALESCE(v.held, s.held),
    provider = COALESCE(v.provider, s.provider),
    failover = COALESCE(v.failover, s.failover),
    claim_token = NULL,
    updated_at = %b
FROM v JOIN ours ON ours.id = v.id
WHERE s.id = v.id
RETURNING s.id, ours.moves
"""


def _write_outcomes_at_once(token: uuid.UUID, outcomes: list[Outcome]) -> set[int]:
    """Every outcome in one statement: the same conditions as _write_outcome, row by row, set-based."""
    columns = [[o.send.pk for o in outcomes], [o.status for o in outcomes]]
    columns += [[o.fields.get(name) for o in outcomes] for name in OUTCOME_FIELDS]
    rows = execute_arrays(_WRITE_OUTCOMES, [*columns, token, timezone.now()])
    return {pk for pk, moves in rows if moves}
