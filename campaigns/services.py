"""Trigger intake: validate a whole batch, then store the trigger and its sends in one transaction."""

import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.utils import timezone

from mailings import metrics
from mailings.models import Channel, Send
from mailings.services import sends_enqueue
from orgs.bulk import built, insert_returning
from orgs.errors import Conflict, Invalid, NotFound, Problem
from orgs.models import ApiToken, Org
from recipients.models import Recipient, normalize_email, normalize_phone

from .intake import RecipientSpec, TriggerCommand, check_attachments
from .models import Campaign, Trigger
from .schemas import Validator, schema_problems, validator_for

logger = logging.getLogger("herald.triggers")
MAX_PROBLEMS = 100
_HEADER_BREAK = re.compile(r"[\r\n\x00]")


@dataclass
class TriggerResult:
    trigger: Trigger
    sends: list[Send]
    replayed: bool = False


def campaign_get(*, org: Org, key: str | None = None, **lookup) -> Campaign:
    if key is not None:
        lookup["key"] = key
    campaign = (
        Campaign.objects.select_related("email_mailing", "sms_mailing").filter(org=org, **lookup).first()
    )
    if campaign is None:
        raise NotFound("No such campaign.")
    return campaign


def trigger_accept(
    *,
    org: Org,
    campaign: Campaign,
    command: TriggerCommand,
    token: ApiToken | None = None,
    idempotency_key: str | None = None,
    fingerprint: str = "",
) -> TriggerResult:
    """Accept a trigger whole or not at all: every problem is reported, and nothing is stored on any."""
    if idempotency_key:
        replay = _replay(org, idempotency_key, fingerprint)
        if replay is not None:
            return replay
    if campaign.status == Campaign.Status.PAUSED:
        raise Conflict(
            f"Campaign '{campaign.key}' is paused.",
            problems=[Problem("campaign", "The campaign is paused; resume it to trigger sends.")],
        )
    plan = _plan(org, campaign, command)
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


@dataclass
class _Planned:
    index: int
    spec: RecipientSpec
    recipient: Recipient | None  # None: to be created
    key: tuple[str, str] | None  # how a new recipient is found again after it is created
    addresses: dict[str, str]  # channel -> address
    context: Any


def _plan(org: Org, campaign: Campaign, command: TriggerCommand) -> list[_Planned]:
    problems: list[Problem] = []
    channels = campaign.channels
    if command.channel:
        if command.channel not in channels:
            problems.append(
                Problem("channel", f"Campaign '{campaign.key}' has no {command.channel} mailing.")
            )
        channels = [command.channel]
    elif not channels:
        problems.append(Problem("campaign", f"Campaign '{campaign.key}' has no mailing to send."))
    count = len(command.recipients)
    if not 1 <= count <= settings.HERALD_MAX_BATCH:
        problems.append(
            Problem("recipients", f"Give 1 to {settings.HERALD_MAX_BATCH} recipients, not {count}.")
        )
    if command.from_email and _HEADER_BREAK.search(command.from_email):
        problems.append(Problem("from", "Must not contain line breaks."))
    if command.expires_at and command.expires_at <= timezone.now():
        problems.append(Problem("expires_at", "Already in the past."))
    problems += check_attachments(command.attachments)

    validators = {channel: _context_validator(campaign.mailing_for(channel)) for channel in channels}
    specs = [_clean_spec(i, spec, problems) for i, spec in enumerate(command.recipients)]
    existing = _lookup(org, specs)
    planned = []
    for i, spec in enumerate(specs):
        recipient, key = _match(spec, existing)
        if spec.id is not None and recipient is None:
            problems.append(Problem(f"recipients[{i}].id", f"No recipient with id {spec.id}."))
            continue
        addresses = {}
        for channel in channels:
            address = _address(spec, recipient, channel)
            if address:
                addresses[channel] = address
            elif command.channel or len(channels) == 1:
                what = "email address" if channel == Channel.EMAIL else "phone number"
                problems.append(Problem(f"recipients[{i}]", f"Has no {what} for the {channel} mailing."))
        if not addresses and not (command.channel or len(channels) == 1) and channels:
            problems.append(Problem(f"recipients[{i}]", "Has neither an email address nor a phone number."))
        context = merge_context(command.context, spec.context)
        for channel in addresses:
            problems += _check_context(validators[channel], context, f"recipients[{i}].context")
        planned.append(_Planned(i, spec, recipient, key, addresses, context))
    if problems:
        problems = sorted(_dedupe(problems), key=_problem_order)
        raise Invalid(_summary(problems), problems=problems[:MAX_PROBLEMS])
    return planned


def _problem_order(problem: Problem) -> tuple[int, str]:
    # Batch-level problems first, then recipient by recipient in request order.
    index = re.match(r"recipients\[(\d+)\]", problem.field)
    return (int(index.group(1)) if index else -1, problem.field)


def _clean_spec(i: int, spec: RecipientSpec, problems: list[Problem]) -> RecipientSpec:
    if spec.email:
        spec.email = normalize_email(spec.email)
        try:
            validate_email(spec.email)
        except ValidationError:
            problems.append(
                Problem(f"recipients[{i}].email", f"'{spec.email}' is not a valid email address.")
            )
    if spec.phone:
        phone = normalize_phone(spec.phone)
        if phone is None:
            problems.append(Problem(f"recipients[{i}].phone", f"'{spec.phone}' is not a phone number."))
        spec.phone = phone
    for name in ("first_name", "last_name", "external_id", "locale"):
        if _HEADER_BREAK.search(getattr(spec, name) or ""):
            # Names can end up in headers (To: "Ann" <ann@…>); a line break there would inject more headers.
            problems.append(Problem(f"recipients[{i}].{name}", "Must not contain line breaks."))
    if spec.id is None and not (spec.email or spec.phone or spec.external_id):
        problems.append(Problem(f"recipients[{i}]", "Give an id, email, phone or external_id."))
    return spec


def _lookup(org: Org, specs: list[RecipientSpec]) -> dict[str, dict]:
    """Existing recipients by each kind of key, in one query per kind."""
    wanted = {
        "id": {s.id for s in specs if s.id is not None},
        "external_id": {s.external_id for s in specs if s.external_id and s.id is None},
        "email": {s.email for s in specs if s.email and s.id is None},
        "phone": {s.phone for s in specs if s.phone and s.id is None},
    }
    found: dict[str, dict] = {kind: {} for kind in wanted}
    for kind, values in wanted.items():
        if values:
            for recipient in Recipient.objects.filter(org=org, **{f"{kind}__in": values}).order_by("pk"):
                found[kind].setdefault(getattr(recipient, kind), recipient)
    return found


def _match(spec: RecipientSpec, existing: dict[str, dict]) -> tuple[Recipient | None, tuple[str, str] | None]:
    if spec.id is not None:
        return existing["id"].get(spec.id), None
    for kind in ("external_id", "email", "phone"):
        value = getattr(spec, kind)
        if value and value in existing[kind]:
            return existing[kind][value], None
    kind = next((k for k in ("external_id", "email", "phone") if getattr(spec, k)), None)
    return None, (kind, getattr(spec, kind)) if kind else None


def _address(spec: RecipientSpec, recipient: Recipient | None, channel: str) -> str | None:
    given = spec.email if channel == Channel.EMAIL else spec.phone
    return given or (recipient.address_for(channel) if recipient else None)


def merge_context(shared: Any, own: Any) -> Any:
    """The recipient's own context over the trigger's shared one (key by key when both are objects)."""
    if isinstance(shared, dict) and isinstance(own, dict):
        return {**shared, **own}
    if own is not None:
        return own
    return shared if shared is not None else {}


def _context_validator(mailing) -> Validator | None:
    if mailing is None or not mailing.context_schema:
        return None
    return validator_for(mailing.context_schema)


def _check_context(validator: Validator | None, context: Any, field: str) -> list[Problem]:
    if validator is None or validator.is_valid(context):
        return []
    return [
        Problem(
            field + ("" if p.field == "body" else ("" if p.field.startswith("[") else ".") + p.field),
            p.message,
        )
        for p in schema_problems(validator.schema, context, validator)
    ]


def _dedupe(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def _summary(problems: list[Problem]) -> str:
    n = len(_dedupe(problems))
    return f"The trigger was not accepted: {n} problem{'s' if n != 1 else ''}. Nothing was stored or sent."


def _store(
    org: Org,
    campaign: Campaign,
    command: TriggerCommand,
    planned: list[_Planned],
    token: ApiToken | None,
    idempotency_key: str | None,
    fingerprint: str,
) -> TriggerResult:
    now = timezone.now()
    _create_recipients(org, [p for p in planned if p.recipient is None])
    delay = command.delay if command.delay is not None else campaign.delay_seconds
    send_at = command.send_at or (now + timedelta(seconds=delay) if delay else None)
    scheduled = send_at is not None and send_at > now
    trigger = Trigger.objects.create(
        org=org, campaign=campaign, token=token, source=command.source, reference=command.reference,
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
                status=Send.Status.SCHEDULED if scheduled else Send.Status.QUEUED,
                scheduled_at=send_at if scheduled else None,
                queued_at=None if scheduled else now,
                created_at=now,
                updated_at=now,
            )  # fmt: skip
            for p in planned
            for channel, address in p.addresses.items()
        ),
    )
    _insert(sends)
    if not scheduled:
        sends_enqueue(send_ids=[s.pk for s in sends])
    return TriggerResult(trigger=trigger, sends=sends)


def _create_recipients(org: Org, planned: list[_Planned]) -> None:
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
                attributes=spec.attributes or {},
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
    existing = _lookup(org, [p.spec for p in missing]) if missing else {}
    for p in planned:
        p.recipient = new[p.key] if new[p.key].pk is not None else _match(p.spec, existing)[0]
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


def trigger_counts(*, trigger: Trigger) -> dict[str, int]:
    rows = trigger.sends.values("status").annotate(n=Count("pk")).order_by()
    return {row["status"]: row["n"] for row in rows}
