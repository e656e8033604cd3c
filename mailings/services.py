"""The dispatch pipeline: claim, render, deliver, journal each outcome, record them per chunk; the sweep."""

import base64
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Min
from django.utils import timezone

from orgs.bulk import execute_arrays, instances
from orgs.errors import Conflict, Problem
from orgs.models import AuditEntry
from orgs.services import actor_identity, audit_entry, audit_record
from recipients.selectors import suppressions_for

from . import journal
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

    # A few sends (a password reset, an order confirmation) have a queue of their own, which workers take
    # turns with the bulk one: a large campaign ahead of them in the queue never holds them up.
    queue = settings.HERALD_INTERACTIVE_QUEUE if len(ids) <= settings.HERALD_INTERACTIVE_MAX_SENDS else None

    def publish() -> None:
        from .tasks import dispatch_sends

        size = settings.HERALD_CHUNK_SIZE
        for start in range(0, len(ids), size):
            dispatch_sends.apply_async((ids[start : start + size],), queue=queue)

    if on_commit:
        # robust: a broker outage must not turn an accepted, committed trigger into an error; the sweep
        # re-enqueues whatever was not published.
        transaction.on_commit(publish, robust=True)
    else:
        publish()


def sends_dispatch(*, send_ids: list[int]) -> dict[str, int]:
    """Claim what is still queued among `send_ids`, deliver each, journal each outcome at once."""
    token, claimed = _claim(send_ids)
    counts: dict[str, int] = {}
    if not claimed:
        return counts
    attachments = _attachments_by_trigger({send.trigger_id for send in claimed if send.trigger_id})
    suppressed = _suppressed(claimed)
    # A chunk of one (a password reset) has nothing to record together: it skips the journal's round trips.
    outcomes = _Outcomes(token, webhook_subscriptions_load(sends=claimed), journaled=len(claimed) > 1)
    # Stop well inside the lease: past it the sweep takes the claim back, and a send still going out
    # here would go out twice. What is left is handed back to the queue, unmarked: it was never tried.
    deadline = time.monotonic() + settings.HERALD_LEASE_SECONDS / 2
    connections = Connections()
    try:
        for position, send in enumerate(claimed):
            if time.monotonic() > deadline:
                outcomes.flush()
                _release(token, [s.pk for s in claimed[position:]])
                counts["released"] = len(claimed) - position
                break
            outcome = _dispatch_one(
                send, attachments.get(send.trigger_id, []), connections, suppressed.get(send.pk),
                before_delivery=outcomes.confirm,
            )  # fmt: skip
            outcomes.add(outcome)
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        outcomes.finish()
    except BaseException:
        # What went out is recorded now if the database lets us; if not, the sweep finds it in the journal.
        with contextlib.suppress(Exception):
            outcomes.flush()
        raise
    finally:
        connections.close()
    return counts


@dataclass
class Outcome:
    """What became of one send: its new status (None: leave it) and the fields to record with it."""

    send: Send
    status: str | None
    fields: dict


# What an outcome may write besides its status; a None among them leaves the column as it is.
OUTCOME_FIELDS = (
    "sent_at", "provider_message_id", "last_error", "scheduled_at", "subject", "text", "html",
    "mailing_version",
)  # fmt: skip


class _Outcomes:
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
            _record_outcomes(self.token, self.pending, self.subscriptions)
            self.pending = []
        self.flushed_at = time.monotonic()

    def finish(self) -> None:
        self.flush()
        if self.written:
            journal.journal_forget(token=self.token)


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
    claimed = instances(
        Send.objects.filter(pk__in=send_ids, claim_token=token, status=Status.SENDING).order_by("pk")
    )
    # Each related row is loaded once, not joined to every send: a chunk's sends share a mailing and a
    # campaign or two (whose templates and JSON would be fetched and parsed a hundred times), and a join
    # doubles the cost of turning rows into models.
    for relation in ("recipient", "mailing", "campaign"):
        _attach_shared(claimed, relation)
    return token, claimed


def _attach_shared(sends: list[Send], relation: str) -> None:
    field = Send._meta.get_field(relation)
    ids = {getattr(send, field.attname) for send in sends} - {None}
    loaded = {row.pk: row for row in instances(field.related_model.objects.filter(pk__in=ids))}
    for send in sends:
        field.set_cached_value(send, loaded.get(getattr(send, field.attname)))


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
    attachments: list[Attachment],
    connections: Connections,
    suppressed_because: str | None,
    *,
    before_delivery: Callable[[], None],
) -> Outcome:
    now = timezone.now()
    if send.expires_at and send.expires_at <= now:
        return Outcome(send, Status.EXPIRED, {"last_error": "Not dispatched before it expired."})
    if suppressed_because:
        error = f"{send.to_address} is suppressed for this org ({suppressed_because}); not dispatched."
        return Outcome(send, Status.SUPPRESSED, {"last_error": error})
    if send.mailing is None:
        return Outcome(send, Status.FAILED, {"last_error": "The mailing was deleted."})
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
        return Outcome(send, Status.FAILED, {"last_error": f"Template error in {exc}"})
    content = {
        "subject": rendered.subject, "text": rendered.text, "html": rendered.html,
        "mailing_version": send.mailing.version or None,
    }  # fmt: skip
    before_delivery()
    try:
        message_id = deliver(send, rendered, attachments, connections)
    except PermanentFailure as exc:
        return Outcome(send, Status.FAILED, {"last_error": str(exc), **content})
    except TransientFailure as exc:
        if send.attempts >= settings.HERALD_MAX_ATTEMPTS:
            error = f"Gave up after {send.attempts} attempts: {exc}"
            return Outcome(send, Status.FAILED, {"last_error": error, **content})
        retry_at = now + timedelta(seconds=retry_delay(send.attempts, exc.retry_after))
        return Outcome(send, Status.SCHEDULED, {"scheduled_at": retry_at, "last_error": str(exc), **content})
    return Outcome(
        send, Status.SENT,
        {"sent_at": timezone.now(), "provider_message_id": message_id, "last_error": "", **content},
    )  # fmt: skip


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    delay = min(
        settings.HERALD_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), settings.HERALD_RETRY_MAX_SECONDS
    )
    return max(delay, retry_after or 0)


def _record(send: Send, token: uuid.UUID, subscriptions: Subscriptions | None = None, **fields) -> bool:
    """Write what became of one send; whether its status moved."""
    status = fields.pop("status", None)
    return send.pk in _record_outcomes(token, [Outcome(send, status, fields)], subscriptions)


def _record_outcomes(
    token: uuid.UUID, outcomes: list[Outcome], subscriptions: Subscriptions | None = None
) -> set[int]:
    """Write what became of these sends of one claim; the ids whose status moved.

    Webhook deliveries commit with the outcome they tell of.
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
    # A transaction only where there is a notification to write with the outcome: none costs nothing extra.
    with transaction.atomic() if notifications else contextlib.nullcontext():
        if connection.vendor == "postgresql":
            moved = _write_outcomes_at_once(token, outcomes)
        else:
            moved = {o.send.pk for o in outcomes if _write_outcome(token, o)}
        deliveries = [d for pk in moved for d in notifications.get(pk, ())]
        if deliveries:
            webhook_deliveries_save(deliveries=deliveries)
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
    # bounced) and its news is later than this outcome (see mailings.events). The rest is written anyway.
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
        %b::text[], %b::text[], %b::text[], %b::integer[]
    ) AS v(id, status, sent_at, provider_message_id, last_error, scheduled_at, subject, text, html,
           mailing_version)
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

    # A send still `sending` past its lease lost its worker. What the worker journaled went out (or
    # failed) and is recorded from the journal now, not sent again. Within a claim, sends are delivered
    # in id order and each outcome is journaled before the next send, so of the rest only the lowest id
    # may have reached the provider: that one is marked, the others were never attempted.
    stale = Send.objects.filter(status=Status.SENDING, claimed_at__lt=lease)
    recovered, unreadable = _recover_journaled(
        set(stale.order_by().values_list("claim_token", flat=True).distinct()[:batch])
    )
    stale = stale.exclude(claim_token__in=unreadable)
    with transaction.atomic():
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
    counts = {"due": len(due), "stale": len(stale_ids), "lost": len(lost), "recovered": recovered}
    if any(counts.values()):
        logger.info("sweep re-enqueued %s", counts)
    return counts


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
            recovered += len(_record_outcomes(token, outcomes, webhook_subscriptions_load(sends=sends)))
    return recovered, unreadable


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
