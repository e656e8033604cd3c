"""Claiming a chunk: one conditional UPDATE takes the sends still queued; what they share is loaded once."""

import base64
import uuid

from django.db.models import F
from django.utils import timezone

from core.bulk import instances
from sends.models import Send, Trigger
from sends.unsubscribe import is_marketing
from suppressions.selectors import suppressions_for

from .channels import Attachment

Status = Send.Status


def sends_claim(*, send_ids: list[int]) -> tuple[uuid.UUID, list[Send]]:
    """Take what is still queued among `send_ids` for this worker: the claim's token and its sends."""
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
