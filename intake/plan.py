"""Checking a whole trigger before anything is stored: every recipient, address and context; every problem."""

import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from campaigns.models import Campaign
from core.errors import Invalid, Problem
from core.inputs import (
    datetime_range_problem,
    delay_problem,
    json_problem,
    locale_problem,
    name_problem,
    sender_problem,
    timezone_problem,
)
from mailings.models import Channel
from orgs.models import Org
from recipients.models import Recipient, normalize_email, normalize_phone

from .commands import RecipientSpec, TriggerCommand, check_attachments
from .validation import Validator, schema_problems, validator_for

MAX_PROBLEMS = 100


@dataclass
class Planned:
    index: int
    spec: RecipientSpec
    recipient: Recipient | None  # None: to be created
    key: tuple[str, str] | None  # how a new recipient is found again after it is created
    addresses: dict[str, str]  # channel -> address
    context: Any


def trigger_plan(
    org: Org, campaign: Campaign, command: TriggerCommand, *, max_batch: int | None = None
) -> list[Planned]:
    """The trigger's recipients, addresses and contexts, or Invalid naming every problem."""
    planned, problems = trigger_check(org, campaign, command, max_batch=max_batch)
    if problems:
        raise Invalid(_summary(problems), problems=problems[:MAX_PROBLEMS])
    return planned


def trigger_check(
    org: Org, campaign: Campaign, command: TriggerCommand, *, max_batch: int | None = None
) -> tuple[list[Planned], list[Problem]]:
    """What trigger_plan decides, without raising: every problem in request order, and nothing stored.

    A preview (a list upload's check) shows the problems row by row in the API's own words; `max_batch`
    is the caller's bound on recipients (HERALD_MAX_BATCH for every API).
    """
    max_batch = settings.HERALD_MAX_BATCH if max_batch is None else max_batch
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
    if not 1 <= count <= max_batch:
        problems.append(Problem("recipients", f"Give 1 to {max_batch} recipients, not {count}."))
    problems += _command_problems(campaign, command)
    problems += check_attachments(command.attachments)

    validators = {channel: _context_validator(campaign.mailing_for(channel)) for channel in channels}
    specs = [_clean_spec(i, spec, problems) for i, spec in enumerate(command.recipients)]
    existing = recipients_lookup(org, specs)
    planned = []
    for i, spec in enumerate(specs):
        recipient, key = recipient_match(spec, existing)
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
        planned.append(Planned(i, spec, recipient, key, addresses, context))
    return planned, sorted(_dedupe(problems), key=_problem_order)


def _command_problems(campaign: Campaign, command: TriggerCommand) -> list[Problem]:
    """What is wrong with the trigger as a whole, whichever API built the command (core/inputs.py)."""
    problems = []
    if command.from_email:
        problem = sender_problem(command.from_email)
        if problem:
            problems.append(Problem("from", problem))
    problem = locale_problem(command.locale or "")
    if problem:
        problems.append(Problem("locale", problem))
    for name in ("reference", "cancellation_key", "dedup_key"):
        problem = getattr(command, name) and name_problem(getattr(command, name))
        if problem:
            problems.append(Problem(name, problem))
    for name in ("send_at", "expires_at"):
        value = getattr(command, name)
        problem = value is not None and datetime_range_problem(value)
        if problem:
            problems.append(Problem(name, problem))
    if command.expires_at and command.expires_at <= timezone.now():
        problems.append(Problem("expires_at", "Already in the past."))
    if command.delay is not None:
        problem = delay_problem(command.delay)
        if problem:
            problems.append(Problem("delay", problem))
    elif command.send_at is None and delay_problem(campaign.delay_seconds):
        # Stored before delays were bounded: adding it to now would overflow.
        problems.append(
            Problem("campaign", f"Campaign '{campaign.key}' has a delay_seconds over 366 days; lower it.")
        )
    problem = json_problem(command.context, "context")
    if problem:
        problems.append(problem)
    return problems


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
    for name in ("first_name", "last_name", "external_id"):
        # Names can end up in headers (To: "Ann" <ann@…>); a line break there would inject more headers.
        problem = name_problem(getattr(spec, name) or "")
        if problem:
            problems.append(Problem(f"recipients[{i}].{name}", problem))
    problem = locale_problem(spec.locale or "")
    if problem:
        problems.append(Problem(f"recipients[{i}].locale", problem))
    problem = timezone_problem(spec.timezone or "")
    if problem:
        problems.append(Problem(f"recipients[{i}].timezone", problem))
    for name in ("attributes", "context"):
        problem = json_problem(getattr(spec, name), f"recipients[{i}].{name}")
        if problem:
            problems.append(problem)
    if spec.id is None and not (spec.email or spec.phone or spec.external_id):
        problems.append(Problem(f"recipients[{i}]", "Give an id, email, phone or external_id."))
    return spec


def recipients_lookup(org: Org, specs: list[RecipientSpec]) -> dict[str, dict]:
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


def recipient_match(
    spec: RecipientSpec, existing: dict[str, dict]
) -> tuple[Recipient | None, tuple[str, str] | None]:
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
