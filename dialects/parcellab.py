"""parcelLab trigger messages: POST /v2/trigger-message (and /v2/trigger) and PUT /v2/re-trigger-message.

The `user` header is the org's id and `token` one of its API tokens. `message` names a campaign by its key;
each `to` is an email address or a phone number, as `channel` says.
"""

import uuid
from typing import Any

from django.conf import settings
from rest_framework import status
from rest_framework.response import Response

from campaigns.selectors import campaign_get
from core.errors import Conflict, HeraldError, Invalid, NotFound, Problem
from core.inputs import name_problem
from dialects.common import (
    DialectView,
    Forbidden,
    Unauthorized,
    accept_in_dialect,
    api_token,
    integer,
    is_digits,
    json_body,
    recipient_field,
)
from dialects.openapi.parcellab import (
    RETRIGGER_SCHEMA,
    retrigger_operation,
    trigger_operation,
    trigger_schema,
)
from dialects.selectors import send_get
from intake.accept import TriggerResult
from intake.commands import RecipientSpec, TriggerCommand
from intake.validation import schema_problems
from mailings.models import Channel
from orgs.idempotency import request_fingerprint
from orgs.models import ApiToken
from sends.services import sends_retrigger

SOURCE = "parcellab"
CHANNELS = {"email": Channel.EMAIL, "mail": Channel.EMAIL, "e-mail": Channel.EMAIL, "sms": Channel.SMS}


class ParcelLabView(DialectView):
    # The vendor answers 403 for missing or bad credentials on this endpoint and 401 on re-trigger.
    credential_status = status.HTTP_403_FORBIDDEN

    def error_response(self, error: HeraldError) -> Response:
        body: dict[str, Any] = {"success": False, "message": error.message}
        if error.problems:
            body["errors"] = [p.as_dict() for p in error.problems]
        if error.status >= 500:
            body["reference"] = str(uuid.uuid4())
        return Response(body, status=error.status)

    def token(self, request) -> ApiToken:
        """The `user` org's token with the send scope; anything else is the one credential error."""
        token = api_token(request.headers.get("token"))
        user = integer(request.headers.get("user"))
        if token is None or user is None or token.org_id != user:
            raise _credential_error(
                self.credential_status, "No or invalid credentials: give the user and token headers."
            )
        if not token.has_scope("send"):
            raise _credential_error(self.credential_status, "This token lacks the 'send' scope.")
        self.admit(request, token)
        return token


@trigger_operation("parcellab_trigger_message")
class TriggerMessageView(ParcelLabView):
    authentication_classes = ()
    permission_classes = ()

    def post(self, request) -> Response:
        token = self.token(request)
        body = _object(json_body(request))
        _check_batch(body.get("to"))
        problems = schema_problems(trigger_schema(), body)
        channel = CHANNELS.get(str(body.get("channel", "")).strip().lower())
        if "channel" in body and channel is None:
            problems.append(
                Problem("channel", f"'{body['channel']}' is not a channel Herald sends: use email or SMS.")
            )
        problems += _line_problems(body)
        if problems:
            raise Invalid(
                f"The payload has {len(problems)} problem(s); nothing was triggered.", problems=problems
            )
        try:
            campaign = campaign_get(org=token.org, key=body["message"])
        except NotFound as exc:
            raise Invalid(
                "Unknown message.", problems=[Problem("message", f"No message '{body['message']}'.")]
            ) from exc
        given_id = body.get("correlationId")
        correlation_id = given_id or str(uuid.uuid4())
        command = TriggerCommand(
            recipients=[_recipient(to, channel) for to in body["to"]],
            context=_placeholders(body.get("placeholders", [])),
            channel=channel,
            locale=_locale(body.get("locale")),
            delay=int(body["delay"]) if "delay" in body else None,
            metadata={"client": body["client"]} if body.get("client") else {},
            reference=correlation_id,
            source=SOURCE,
        )
        result = accept_in_dialect(
            org=token.org,
            campaign=campaign,
            command=command,
            token=token,
            # A correlationId the caller chose is its retry key; a generated one is new each time.
            idempotency_key=f"{SOURCE}:{given_id}" if given_id else None,
            fingerprint=request_fingerprint([SOURCE, body]),
            rename=_field_name,
            # A paused message or a reused correlationId too: the vendor documents 400 for a payload it
            # will not take, and no other answer.
            refusals=(Invalid, Conflict),
        )
        return Response(_accepted(result), status=status.HTTP_202_ACCEPTED)


@trigger_operation("parcellab_trigger")
class TriggerView(TriggerMessageView):
    """POST /v2/trigger, the path of the vendor's own curl example."""


class RetriggerMessageView(ParcelLabView):
    authentication_classes = ()
    permission_classes = ()
    credential_status = status.HTTP_401_UNAUTHORIZED

    @retrigger_operation
    def put(self, request) -> Response:
        token = self.token(request)
        body = _object(json_body(request))
        problems = schema_problems(RETRIGGER_SCHEMA, body)
        channel = CHANNELS.get(str(body.get("channel", "")).strip().lower())
        if "channel" in body and channel is None:
            problems.append(Problem("channel", f"'{body['channel']}' is not a channel: use email or SMS."))
        send_id = str(body.get("id", "")).strip()
        if "id" in body and not _is_send_id(send_id):
            problems.append(
                Problem("id", "Not a message id: the id or the UUID of a send, as Herald gave it.")
            )
        if problems:
            raise Invalid("channel or id is missing or not valid.", problems=problems)
        try:
            old = send_get(org=token.org, send_id=send_id, channel=channel)
        except NotFound as exc:
            raise NotFound(f"No {body['channel']} message with id '{send_id}'.") from exc
        [new] = sends_retrigger(sends=[old], actor=token)
        return Response(
            {"success": True, "id": str(new.pk), "retriggered": str(old.pk)}, status=status.HTTP_202_ACCEPTED
        )


def _check_batch(to: Any) -> None:
    # Before the schema: jsonschema would check each of 100,000 items (14 s) only to refuse their number.
    limit = settings.HERALD_MAX_BATCH
    if isinstance(to, list) and len(to) > limit:
        raise Invalid(
            f"The payload has {len(to)} recipients; at most {limit} at once.",
            problems=[Problem("to", f"At most {limit} recipients.")],
        )


def _line_problems(body: dict) -> list[Problem]:
    """correlationId becomes the trigger's reference and client its metadata: both reach logs and webhooks,
    so each is one line (core/inputs.py)."""
    return [
        Problem(name, problem)
        for name in ("correlationId", "client")
        if isinstance(body.get(name), str) and (problem := name_problem(body[name]))
    ]


def _credential_error(status_code: int, message: str) -> HeraldError:
    return Forbidden(message) if status_code == status.HTTP_403_FORBIDDEN else Unauthorized(message)


def _object(body: Any) -> dict:
    if not isinstance(body, dict):
        raise Invalid("The payload must be a JSON object.", problems=[Problem("body", "Not an object.")])
    return body


def _recipient(to: dict, channel: str) -> RecipientSpec:
    # A name names a new recipient; an existing one keeps the name it has.
    first, _, last = to.get("name", "").strip().rpartition(" ")
    first, last = (first, last) if first else (last, "")
    address = to["address"].strip()
    if channel == Channel.SMS:
        return RecipientSpec(phone=address, first_name=first[:150], last_name=last[:150])
    return RecipientSpec(email=address, first_name=first[:150], last_name=last[:150])


def _placeholders(placeholders: list[dict]) -> dict:
    return {item["name"]: item["value"] for item in placeholders}


def _locale(locale: str | None) -> str | None:
    """Java's de_DE as de-DE. None falls back to the recipient's locale, then the mailing's default."""
    return locale.replace("_", "-") if locale else None


def _is_send_id(value: str) -> bool:
    if is_digits(value):
        return True
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _accepted(result: TriggerResult) -> dict:
    return {
        "correlationId": result.trigger.reference,
        "messages": [
            {"id": str(send.pk), "channel": send.channel, "address": send.to_address} for send in result.sends
        ],
    }


def _field_name(field: str) -> str:
    hit = recipient_field(field)
    if hit is None:
        return {"campaign": "message", "recipients": "to", "expires_at": "delay"}.get(field, field)
    index, rest = hit
    if rest.startswith(".context"):
        return "placeholders" + rest[len(".context") :]
    if rest in (".first_name", ".last_name"):
        return f"to[{index}].name"
    return f"to[{index}].address" if rest in ("", ".email", ".phone") else f"to[{index}]{rest}"
