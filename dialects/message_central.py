"""Message Central 3.x triggered mailings: PUT or POST /v1.0/mailing/trigger and /v3.7/mailing/trigger.

`?orgid=` is the API token's own org, `mid=` a campaign's integer id. The body is one recipient object, an
array of them, or an array of recipient ids; the answer is the array of the ids of the recipients added.
"""

from typing import Any

from django.conf import settings
from rest_framework import status
from rest_framework.response import Response

from campaigns.selectors import campaign_get
from core.errors import HeraldError, Invalid, NotFound, Problem
from dialects.common import (
    ID_MAX,
    DialectView,
    Unauthorized,
    accept_in_dialect,
    caller_reference,
    idempotency_key,
    integer,
    json_body,
    recipient_field,
    require_scope,
)
from dialects.openapi.message_central import FIELDS, TEXT_LIMITS, documented
from intake.commands import RecipientSpec, TriggerCommand
from intake.validation import schema_problems
from orgs.auth import ApiTokenAuthentication
from orgs.idempotency import request_fingerprint
from orgs.models import ApiToken

SOURCE = "message_central"


class TriggerView(DialectView):
    authentication_classes = ()
    permission_classes = ()

    def put(self, request, api_version: str) -> Response:
        token = _authenticate(request)
        require_scope(token, "send")
        self.admit(request, token)
        org = token.org
        org_id, mailing_id = _target(request)
        if org_id != org.pk:
            raise NotFound(f"No org {org_id} for this API token.")
        try:
            campaign = campaign_get(org=org, pk=mailing_id)
        except NotFound as exc:
            raise NotFound(f"No mailing {mailing_id} in org {org_id}.") from exc
        body = json_body(request, lenient=True)
        specs, single = parse_recipients(body, api_version)
        command = TriggerCommand(recipients=specs, reference=caller_reference(request), source=SOURCE)
        result = accept_in_dialect(
            org=org,
            campaign=campaign,
            command=command,
            token=token,
            idempotency_key=idempotency_key(request, SOURCE),
            fingerprint=request_fingerprint([SOURCE, api_version, campaign.pk, body]),
            rename=lambda field: _field_name(field, single, api_version),
        )
        added = list(dict.fromkeys(send.recipient_id for send in result.sends))
        return Response(added, status=status.HTTP_200_OK)

    post = put

    def error_response(self, error: HeraldError) -> Response:
        response = Response(
            {"message": error.message, "errors": [_named_rid(p).as_dict() for p in error.problems]},
            status=error.status,
        )
        if error.status == status.HTTP_401_UNAUTHORIZED:
            response["WWW-Authenticate"] = 'Basic realm="herald"'
        return response


@documented("1.0")
class TriggerV10View(TriggerView):
    """v1.0: names as firstName and lastName, email only."""


@documented("3.7")
class TriggerV37View(TriggerView):
    """v3.7: names as firstname and lastname, and the SMS number as mobile."""


def _authenticate(request) -> ApiToken:
    """The org's API token, as a bearer token or as the password of HTTP Basic (the vendor's own scheme)."""
    authenticated = ApiTokenAuthentication().authenticate(request)
    if authenticated is None:
        raise Unauthorized(
            "Give the org's API token: Authorization: Bearer <token>, or Basic with it as password."
        )
    return authenticated[1]


def _target(request) -> tuple[int, int]:
    if "extraWhereClause" in request.query_params:
        # The vendor's raw-SQL filter: Herald never runs SQL a caller wrote.
        raise Invalid(
            "extraWhereClause is not supported.",
            problems=[
                Problem("extraWhereClause", "Herald runs no caller-written SQL; name the mailing by mid.")
            ],
        )
    params = {name: integer(request.query_params.get(name)) for name in ("orgid", "mid")}
    problems = [
        Problem(name, f"Required: the {what}'s integer id.")
        for name, what in (("orgid", "org"), ("mid", "mailing"))
        if params[name] is None
    ]
    if problems:
        raise Invalid("Name the org and the mailing: ?orgid=…&mid=….", problems=problems)
    return params["orgid"], params["mid"]


def parse_recipients(body: Any, api_version: str) -> tuple[list[RecipientSpec], bool]:
    """The recipients of the body, and whether it was a single object (which names its fields without [i])."""
    single = isinstance(body, dict)
    items = [body] if single else body
    if not isinstance(items, list):
        raise Invalid(
            "The body must be a recipient object, an array of them, or an array of recipient ids.",
            problems=[Problem("body", "Not an object or an array.")],
        )
    if not 1 <= len(items) <= settings.HERALD_MAX_BATCH:
        raise Invalid(
            f"Give 1 to {settings.HERALD_MAX_BATCH} recipients.",
            problems=[Problem("body", f"{len(items)} recipients.")],
        )
    problems: list[Problem] = []
    specs = []
    for i, item in enumerate(items):
        where = "" if single else f"[{i}]"
        if isinstance(item, int) and not isinstance(item, bool) and 1 <= item <= ID_MAX:
            specs.append(RecipientSpec(id=item))
        elif isinstance(item, dict):
            specs.append(_recipient(item, api_version, where, problems))
        else:
            problems.append(
                Problem(where or "body", "Must be a recipient object or a recipient id (an integer).")
            )
    if problems:
        raise Invalid(
            f"The trigger was not accepted: {len(problems)} problem(s). Nothing was sent.", problems=problems
        )
    return specs, single


def _recipient(item: dict, api_version: str, where: str, problems: list[Problem]) -> RecipientSpec:
    fields = FIELDS[api_version]
    values: dict[str, Any] = {}
    for key, value in item.items():
        if key == "context":
            continue
        if key not in fields:
            problems.append(Problem(_join(where, key), _unknown_field(key, api_version)))
            continue
        values[fields[key]] = value
    rid = values.pop("id", None)
    if rid is not None:
        if isinstance(rid, bool) or not isinstance(rid, int) or not 1 <= rid <= ID_MAX:
            problems.append(Problem(_join(where, "rid"), "Must be the integer id of an existing recipient."))
        # With a rid the recipient exists: the other fields describe nothing and are ignored.
        return RecipientSpec(id=rid, context=item.get("context"))
    schema = {
        "type": "object",
        "properties": {name: {"type": "string", "maxLength": limit} for name, limit in TEXT_LIMITS.items()},
    }
    problems += [
        Problem(_join(where, _vendor_name(p.field, api_version)), p.message)
        for p in schema_problems(schema, values)
    ]
    if not values.get("email") and not values.get("phone"):
        problems.append(
            Problem(where or "body", "Give rid for an existing recipient, or email to find or create one.")
        )
    return RecipientSpec(
        **{k: v for k, v in values.items() if isinstance(v, str)}, context=item.get("context")
    )


def _unknown_field(key: str, api_version: str) -> str:
    for known in FIELDS[api_version]:
        if known.lower() == key.lower():
            return f"Unknown field '{key}': field names are case sensitive in v{api_version}; use '{known}'."
    if api_version == "1.0" and key in FIELDS["3.7"]:
        return f"Unknown field '{key}': SMS fields need the /v3.7/ trigger."
    return f"Unknown field '{key}'."


def _vendor_name(name: str, api_version: str) -> str:
    return next((vendor for vendor, herald in FIELDS[api_version].items() if herald == name), name)


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _field_name(field: str, single: bool, api_version: str) -> str:
    hit = recipient_field(field)
    if hit is None:
        return {"recipients": "body", "campaign": "mid", "channel": "mid"}.get(field, field)
    index, rest = hit
    if rest in (".first_name", ".last_name"):
        rest = "." + _vendor_name(rest[1:], api_version)
    rest = {".id": ".rid", ".phone": ".mobile"}.get(rest, rest)
    name = ("" if single else f"[{index}]") + rest
    return name.lstrip(".") or "body"


def _named_rid(problem: Problem) -> Problem:
    if problem.field.endswith("rid"):
        return Problem(problem.field, problem.message.replace("recipient with id", "recipient with rid"))
    return problem
