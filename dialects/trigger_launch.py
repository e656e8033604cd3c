"""Trigger launch (API call): v1.1 POST /api/v1.1/campaigns/triggers/start/, and v1.0's secret links.

v1.1 carries an API token in the body, names a campaign by its integer id and an audience of existing
recipients by a matching mode. v1.0 is one link per campaign, /trg/<link-id>/<email | md5 | xxh64 of it>,
which is its own credential. Both answer {"data": null, "error": 0, "error_text": "Successful operation"}.
"""

import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from rest_framework.response import Response

from campaigns.models import Campaign
from campaigns.selectors import campaign_get
from core.errors import HeraldError, Invalid, NotFound, Problem
from core.inputs import locale_problem, name_problem
from dialects.common import (
    DialectView,
    Unauthorized,
    accept_in_dialect,
    api_token,
    caller_reference,
    idempotency_key,
    integer,
    json_body,
    recipient_field,
    rename_problems,
    require_scope,
)
from dialects.mongo_query import QueryError, attribute_equals, translate
from dialects.openapi.trigger_launch import (
    V10_SCHEMA,
    V11_SCHEMA,
    link_get_operation,
    link_post_operation,
    start_operation,
)
from dialects.selectors import (
    campaign_by_link,
    recipient_by_email_md5,
    recipient_by_email_xxh64,
    recipients_matching,
)
from intake.commands import AttachmentSpec, RecipientSpec, TriggerCommand
from intake.validation import schema_problems
from orgs.idempotency import request_fingerprint
from orgs.models import ApiToken, Org
from recipients.models import Recipient, normalize_email, normalize_phone
from recipients.services import PROFILE_FIELDS, recipient_update_fields

SOURCE = "trigger_launch"
SUCCESS = {"data": None, "error": 0, "error_text": "Successful operation"}

_DATA_URL = re.compile(r"^data:(?P<type>[^;,]*)(?:;[^;,]*)*?;base64,(?P<data>.*)$", re.DOTALL)
_NAME_FIELDS = {"firstname": "first_name", "lastname": "last_name", "locale": "locale"}
_CONTACT_FIELDS = {"email", "phone", "externalid", "profileid", "id"}
_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class TriggerLaunchView(DialectView):
    def error_response(self, error: HeraldError) -> Response:
        text = error.message
        if error.problems:
            text += " " + "; ".join(f"{p.field}: {p.message}" for p in error.problems)
        # The vendor's clients read `error`; Herald makes it the HTTP status as well, so both tell.
        return Response({"data": None, "error": error.status, "error_text": text}, status=error.status)


class StartView(TriggerLaunchView):
    """v1.1: the API token in the body, the campaign by id, an audience of existing profiles."""

    authentication_classes = ()
    permission_classes = ()

    @start_operation
    def post(self, request) -> Response:
        body = json_body(request)
        _check(V11_SCHEMA, body)
        token = api_token(body["token"])
        if token is None:
            raise Unauthorized("The API token is not valid.")
        require_scope(token, "send")
        self.admit(request, token)
        campaign_id = integer(body["id"])
        try:
            campaign = campaign_get(org=token.org, pk=campaign_id)
        except NotFound as exc:
            raise NotFound(f"No trigger campaign with id {campaign_id}.") from exc
        _check_title(body.get("content"))
        profiles, channel = audience(token.org, body)
        command = TriggerCommand(
            recipients=[RecipientSpec(id=profile.pk) for profile in profiles],
            context=content_context(body.get("content")),
            channel=channel,
            attachments=attachments(body.get("attach", [])),
            metadata=body.get("custom_data") or {},
            reference=caller_reference(request),
            source=SOURCE,
        )
        without_secret = {key: value for key, value in body.items() if key != "token"}
        _accept(
            campaign, command, profiles, token=token, idempotency_key=idempotency_key(request, SOURCE),
            fingerprint=request_fingerprint([SOURCE, campaign.pk, without_secret]),
        )  # fmt: skip
        return Response(SUCCESS)


class LinkView(TriggerLaunchView):
    """v1.0: the campaign's secret link is the credential; the rest of the URL names one profile."""

    authentication_classes = ()
    permission_classes = ()
    body_required = False

    @link_get_operation
    def get(self, request, link_id: str, who: str) -> Response:
        return self._trigger(request, link_id, who, {})

    @link_post_operation
    def post(self, request, link_id: str, who: str) -> Response:
        # No body is no fields; a body is a JSON object.
        body = json_body(request) if request.body.strip() else {}
        _check(V10_SCHEMA, body)
        return self._trigger(request, link_id, who, body)

    def _trigger(self, request, link_id: str, who: str, body: dict) -> Response:
        campaign = campaign_by_link(link_id=link_id)
        # The link is the credential and has no API token: an unsaved one stands for the link's org.
        self.admit(request, ApiToken(org=campaign.org))
        profile = _profile(campaign.org, who)
        context, writes = field_values(profile, body.get("fields", []))
        command = TriggerCommand(
            recipients=[RecipientSpec(id=profile.pk)],
            context=context,
            reference=caller_reference(request),
            source=SOURCE,
        )
        # Written back and triggered together: a refused trigger leaves the profile as it was, and the
        # message renders from the profile as written.
        with transaction.atomic():
            if writes:
                try:
                    recipient_update_fields(recipient=profile, fields=writes)
                except Invalid as exc:
                    raise Invalid(
                        exc.message, problems=rename_problems(exc.problems, "fields.{}".format)
                    ) from exc
            _accept(
                campaign, command, [profile], token=None, idempotency_key=idempotency_key(request, SOURCE),
                fingerprint=request_fingerprint([SOURCE, link_id, who, body]),
            )  # fmt: skip
        return Response(SUCCESS)


def _check(schema: dict, body: Any) -> None:
    if not isinstance(body, dict):
        raise Invalid("The body must be a JSON object.", problems=[Problem("body", "Not an object.")])
    problems = schema_problems(schema, body)
    if problems:
        raise Invalid(f"The request has {len(problems)} problem(s).", problems=problems)


def _check_title(content: dict | None) -> None:
    # The vendor's templates make content.email_title the subject: a header, so one line.
    title = (content or {}).get("email_title")
    problem = name_problem(title) if isinstance(title, str) else None
    if problem:
        raise Invalid(
            "content.email_title is not one line.", problems=[Problem("content.email_title", problem)]
        )


def audience(org: Org, body: dict) -> tuple[list[Recipient], str | None]:
    """The existing profiles the request names, and the channel its subscription filter picks (if any)."""
    mode = body.get("matching") or ("custom_request" if "custom_request" in body else "email")
    if "custom_request" in body and mode != "custom_request":
        raise Invalid(
            "Give either matching or custom_request.",
            problems=[Problem("custom_request", f"Given with matching '{mode}'; use one or the other.")],
        )
    limit = settings.HERALD_MAX_BATCH
    found = recipients_matching(org=org, query=_matching_query(mode, body), limit=limit + 1)
    if len(found) > limit:
        raise Invalid(
            f"The request matches more than {limit} profiles; Herald triggers at most {limit} at once.",
            problems=[Problem(mode, f"Narrow it to at most {limit} profiles.")],
        )
    if not found:
        raise NotFound(f"No profile matches {_describe(mode, body)}.")
    if mode == "custom_request" or "subscription_filter" not in body:
        # The vendor's rule: the subscription filter is not used with custom_request.
        return found, None
    return _subscribed(found, body["subscription_filter"])


def _matching_query(mode: str, body: dict) -> Q:
    if mode == "custom_request":
        try:
            return translate(body.get("custom_request"))
        except QueryError as exc:
            field = f"custom_request.{exc.path}" if exc.path else "custom_request"
            raise Invalid(
                "custom_request is not a query Herald runs.", problems=[Problem(field, exc.message)]
            ) from exc
    needed = ("field_name", "field_value") if mode == "custom" else (mode,)
    missing = [
        Problem(name, f"Required when matching is '{mode}'.")
        for name in needed
        if body.get(name) in (None, "")
    ]
    if missing:
        raise Invalid(f"matching '{mode}' needs {' and '.join(needed)}.", problems=missing)
    if mode == "custom":
        try:
            return attribute_equals(body["field_name"], body["field_value"])
        except QueryError as exc:
            raise Invalid(
                "field_name is not a field.", problems=[Problem("field_name", exc.message)]
            ) from exc
    if mode == "email":
        return Q(email=normalize_email(body["email"]))
    if mode == "phone":
        phone = normalize_phone(body["phone"])
        if phone is None:
            raise Invalid("phone is not a phone number.", problems=[Problem("phone", "Not a phone number.")])
        return Q(phone=phone)
    return Q(external_id=body["profile_id"])


def _describe(mode: str, body: dict) -> str:
    if mode == "custom_request":
        return "custom_request"
    if mode == "custom":
        return f"{body['field_name']} = {body['field_value']!r}"
    return f"{mode} {body[mode]!r}"


def _subscribed(profiles: list[Recipient], wanted: dict) -> tuple[list[Recipient], str]:
    """Herald keeps one email and one phone a profile: the filter's address must be that one, unless
    not_strict lets the profile's own address stand in."""
    if "subscription_id" in wanted or "provider" in wanted:
        raise Invalid(
            "Push subscriptions are not supported.",
            problems=[
                Problem("subscription_filter", "Herald sends email and SMS: filter by email or phone.")
            ],
        )
    if ("email" in wanted) == ("phone" in wanted):
        raise Invalid(
            "subscription_filter names one address.",
            problems=[Problem("subscription_filter", "Give either email or phone.")],
        )
    if "email" in wanted:
        channel, address, stored = "email", normalize_email(wanted["email"]), "email"
    else:
        channel, address, stored = "sms", normalize_phone(wanted["phone"]), "phone"
        if address is None:
            raise Invalid(
                "The filter's phone is not a phone number.",
                problems=[Problem("subscription_filter.phone", "Not a phone number.")],
            )
    chosen = [p for p in profiles if getattr(p, stored) == address or wanted.get("not_strict", False)]
    if not chosen:
        raise NotFound(
            f"No matched profile has the subscription {wanted[stored]}; not_strict: true uses another."
        )
    return chosen, channel


def content_context(content: dict | None) -> dict | None:
    """The vendor's templates read `content` as apicontent; Herald's as context and context.apicontent."""
    if content is None:
        return None
    return {**content, "apicontent": content}


def attachments(items: list[dict]) -> list[AttachmentSpec]:
    """Base64 data URLs; the core checks the size and the base64 and sanitises the (UTF-8) names."""
    problems = []
    specs = []
    for i, item in enumerate(items):
        match = _DATA_URL.match(item["data"].strip())
        if match is None:
            problems.append(
                Problem(f"attach[{i}].data", "Must be a base64 data URL: data:text/csv;base64,SEVMTE8K")
            )
            continue
        specs.append(
            AttachmentSpec(
                filename=item.get("name") or "attachment",
                content_type=match["type"] or "application/octet-stream",
                content=re.sub(r"\s+", "", match["data"]),
            )
        )
    if problems:
        raise Invalid("Some attachments are not data URLs.", problems=problems)
    return specs


def _profile(org: Org, who: str) -> Recipient:
    if "@" in who:
        email = normalize_email(who)
        try:
            validate_email(email)
        except ValidationError as exc:
            raise Invalid(
                "The link names no valid email address.",
                problems=[Problem("profile", "Not an email address.")],
            ) from exc
        found = recipients_matching(org=org, query=Q(email=email), limit=1)
        profile, kind = (found[0] if found else None), "email"
    elif re.fullmatch(r"[0-9a-fA-F]{32}", who):
        profile, kind = recipient_by_email_md5(org=org, digest=who), "md5"
    elif re.fullmatch(r"[0-9a-fA-F]{16}", who):
        profile, kind = recipient_by_email_xxh64(org=org, digest=who), "xxh64"
    else:
        raise Invalid(
            "The link ends in an email address, or the md5 or xxh64 hash of one.",
            problems=[
                Problem(
                    "profile", "Not an email address, an md5 (32 hex digits) or an xxh64 (16 hex digits)."
                )
            ],
        )
    if profile is None:
        raise NotFound(f"No profile matches this {kind}.")
    return profile


def field_values(profile: Recipient, fields: list[dict]) -> tuple[dict | None, dict]:
    """What the message uses for each named field (as context.<name>), and what is written back.

    option 0: the stored value, unless it is empty; 1: the given value, this message only; 2: the given value,
    also written to the profile.
    """
    if not fields:
        return None, {}
    context: dict[str, Any] = {}
    writes: dict[str, Any] = {}
    problems = []
    for i, item in enumerate(fields):
        name, value, option = item["name"], item["value"], item.get("option", 1)
        key = name.lower().replace("_", "")
        target = _NAME_FIELDS.get(key, name)
        if key in _CONTACT_FIELDS:
            problems.append(
                Problem(f"fields[{i}].name", f"{name} identifies the profile; fields cannot change it.")
            )
            continue
        if target not in PROFILE_FIELDS and not _ATTRIBUTE_NAME.match(name):
            problems.append(Problem(f"fields[{i}].name", "A field name is letters, digits and '_'."))
            continue
        stored = getattr(profile, target) if target in PROFILE_FIELDS else profile.attributes.get(name)
        context[name] = stored if option == 0 and stored not in (None, "") else value
        if option == 2:
            problem = _profile_value_problem(target, value)
            if problem:
                problems.append(Problem(f"fields[{i}].value", problem))
            writes[target] = value
    if problems:
        raise Invalid("Some fields cannot be used.", problems=problems)
    return context, writes


def _profile_value_problem(target: str, value: Any) -> str | None:
    """A name written to the profile goes into the To header later; a locale picks a translation."""
    if not isinstance(value, str) or target not in PROFILE_FIELDS:
        return None
    return locale_problem(value) if target == "locale" else name_problem(value)


def _accept(
    campaign: Campaign,
    command: TriggerCommand,
    profiles: list[Recipient],
    *,
    token: ApiToken | None,
    idempotency_key: str | None,
    fingerprint: str,
) -> None:
    accept_in_dialect(
        org=campaign.org, campaign=campaign, command=command, token=token,
        idempotency_key=idempotency_key, fingerprint=fingerprint,
        rename=lambda field: _field_name(field, profiles),
    )  # fmt: skip


def _field_name(field: str, profiles: list[Recipient]) -> str:
    hit = recipient_field(field)
    if hit is not None:
        index, rest = hit
        rest = re.sub(r"^\.context", ".content", rest)
        return f"profile {profiles[index].pk}{rest}"
    if field.startswith("attachments"):
        return re.sub(
            r"^attachments(\[\d+\])?(\.content(_type)?)?",
            lambda m: f"attach{m[1] or ''}{'.data' if m[2] else ''}",
            field,
        )
    return {"channel": "subscription_filter", "campaign": "id", "recipients": "matching"}.get(field, field)
