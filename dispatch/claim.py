"""Claiming a chunk: one conditional UPDATE takes the sends still queued; what they share is loaded once."""

import base64
import uuid

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core import metrics
from core.bulk import instances
from recipients.models import Recipient
from sends.caps import campaigns_limiting_repeats, repeats_refused
from sends.models import Send, Trigger
from sends.unsubscribe import is_marketing
from suppressions.selectors import suppressions_for

from .channels import Attachment
from .observe import send_outcome

Status = Send.Status


def sends_claim(*, send_ids: list[int]) -> tuple[uuid.UUID, list[Send]]:
    """Take what is still queued among `send_ids` for this worker: the claim's token and its sends."""
    token = uuid.uuid4()
    limited = campaigns_limiting_repeats()
    recipients = (
        set(
            Send.objects.filter(pk__in=send_ids, status=Status.QUEUED, campaign_id__in=limited)
            .values_list("recipient_id", flat=True)
        ) - {None}
        if limited
        else None
    )  # fmt: skip
    if not recipients:
        return token, _claim(token, send_ids)
    # Under a lock on each recipient, the claim and the count of what they already got commit together:
    # the next worker to count for them counts this claim.
    with transaction.atomic():
        list(Recipient.objects.select_for_update().filter(pk__in=recipients).order_by("pk").values_list("pk"))
        claimed = _claim(token, send_ids)
        return token, _refuse_repeats(token, claimed)


def _claim(token: uuid.UUID, send_ids: list[int]) -> list[Send]:
    # One conditional UPDATE claims the chunk: a row another worker claimed first no longer matches
    # status=queued, so a duplicate task finds nothing to do.
    now = timezone.now()
    count = Send.objects.filter(pk__in=send_ids, status=Status.QUEUED).update(
        status=Status.SENDING, claim_token=token, claimed_at=now, attempts=F("attempts") + 1, updated_at=now
    )
    if not count:
        return []
    claimed = instances(
        Send.objects.filter(pk__in=send_ids, claim_token=token, status=Status.SENDING).order_by("pk")
    )
    # Each related row is loaded once, not joined to every send: a chunk's sends share a mailing and a
    # campaign or two (whose templates and JSON would be fetched and parsed a hundred times), and a join
    # doubles the cost of turning rows into models.
    for relation in ("recipient", "mailing", "campaign"):
        _attach_shared(claimed, relation)
    return claimed


def _refuse_repeats(token: uuid.UUID, claimed: list[Send]) -> list[Send]:
    """End the claimed sends over a cap or repeating within a dedup window; the others, to deliver."""
    keys = dict(Trigger.objects.filter(pk__in={s.trigger_id for s in claimed}).values_list("pk", "dedup_key"))
    now = timezone.now()
    refused = repeats_refused(claimed, dedup_keys=keys, now=now, waiting=False, claim=token)
    for i, (status, reason) in refused.items():
        send = claimed[i]
        Send.objects.filter(pk=send.pk, claim_token=token).update(
            status=status, last_error=reason, claim_token=None, updated_at=now
        )
        metrics.tally(metrics.send_tallies(send.channel, status))
        send_outcome(send, status, {"last_error": reason})
    return [send for i, send in enumerate(claimed) if i not in refused]


def _attach_shared(sends: list[Send], relation: str) -> None:
    field = Send._meta.get_field(relation)
    ids = {getattr(send, field.attname) for send in sends} - {None}
    loaded = {row.pk: row for row in instances(field.related_model.objects.filter(pk__in=ids))}
    for send in sends:
        field.set_cached_value(send, loaded.get(getattr(send, field.attname)))


def attachments_by_trigger(trigger_ids: set[int]) -> dict[int, list[Attachment]]:
    if not trigger_ids:
        return {}
    found = {}
    for trigger_id, items in Trigger.objects.filter(pk__in=trigger_ids).values_list("pk", "attachments"):
        found[trigger_id] = [
            Attachment(item["filename"], item["content_type"], base64.b64decode(item["content"]))
            for item in items or []
        ]
    return found


def suppressed_among(sends: list[Send]) -> dict[int, str]:
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
