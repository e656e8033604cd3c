"""Salesforce Marketing Cloud triggered sends.

POST /v2/token trades the org's id and an API token (client_id, client_secret) for a short-lived access
token; with it, POST /messaging/v1/messageDefinitionSends/{id | key:externalKey}/send sends the campaign
(object_id or key) to one address, and GET …/deliveryRecords/{recipientSendId} tells how that send went.
"""

import logging
import re
import time
import uuid
from datetime import UTC
from email.utils import formataddr
from typing import Any

from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from rest_framework import status
from rest_framework.response import Response

from campaigns.models import Campaign
from campaigns.selectors import campaign_get
from core.errors import HeraldError, Invalid, NotFound, Problem
from dialects.common import (
    DialectView,
    Forbidden,
    Unauthorized,
    accept_in_dialect,
    api_token,
    form_or_json_body,
    idempotency_key,
    integer,
    json_body,
    recipient_field,
)
from dialects.openapi.marketing_cloud import (
    ACCESS_TOKEN_SECONDS,
    delivery_record_operation,
    send_operation,
    token_operation,
)
from dialects.selectors import active_token, send_get, sends_by_ids
from dispatch.chunk import sends_dispatch
from intake.commands import RecipientSpec, TriggerCommand
from mailings.models import Channel
from orgs.idempotency import request_fingerprint
from orgs.models import ApiToken, Org
from recipients.models import normalize_email
from sends.models import Send

logger = logging.getLogger(__name__)

SOURCE = "marketing_cloud"
_ACCESS_TOKEN_SALT = "herald.dialects.marketing_cloud.access_token"
# A SYNC request waits this long at most for a send that a worker, not this request, is dispatching.
SYNC_WAIT_SECONDS = 10
INVALID_ADDRESS = {"recipientSendId": "", "hasErrors": True, "messages": ["InvalidOrMissingToAddress"]}
NO_VALID_SUBSCRIBERS = (180008, "Unable to queue Triggered Send request. There are no valid subscribers.")
_PENDING = (Send.Status.QUEUED, Send.Status.SCHEDULED, Send.Status.SENDING)
_SENT = (Send.Status.SENT, Send.Status.DELIVERED, Send.Status.COMPLAINED)
_KEY = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}"


class OAuthError(HeraldError):
    def __init__(self, error: str, message: str, status_code: int):
        super().__init__(message)
        self.error = error
        self.status = status_code


def access_token_issue(token: ApiToken) -> str:
    # Signed, not stored: it names the API token, so revoking that token ends every access token made from it.
    return signing.dumps({"token": token.pk, "org": token.org_id}, salt=_ACCESS_TOKEN_SALT)


def access_token_check(value: str) -> ApiToken | None:
    try:
        claims = signing.loads(value, salt=_ACCESS_TOKEN_SALT, max_age=ACCESS_TOKEN_SECONDS)
    except signing.BadSignature:
        return None
    return active_token(token_id=claims["token"], org_id=claims["org"])


class TokenView(DialectView):
    """POST /v2/token: OAuth client credentials, JSON or form-encoded, as Marketing Cloud takes them."""

    authentication_classes = ()
    permission_classes = ()

    @token_operation
    def post(self, request) -> Response:
        body = form_or_json_body(request)
        if body.get("grant_type") != "client_credentials":
            raise OAuthError("unsupported_grant_type", "Use grant_type client_credentials.", 400)
        org_id, secret = integer(body.get("client_id")), body.get("client_secret")
        if org_id is None or not secret:
            raise OAuthError(
                "invalid_request", "Give client_id (the org's id) and client_secret (an API token).", 400
            )
        token = api_token(secret)
        if token is None or token.org_id != org_id:
            raise OAuthError(
                "invalid_client",
                "Client authentication failed. Make sure that the client ID and client secret are valid.",
                401,
            )
        self.admit(request, token)
        # account_id picks a business unit in Marketing Cloud; an org is Herald's only unit, so it is ignored.
        base = request.build_absolute_uri("/")
        return Response(
            {
                "access_token": access_token_issue(token),
                "token_type": "Bearer",
                "expires_in": ACCESS_TOKEN_SECONDS,
                "scope": " ".join(token.scopes),
                "soap_instance_url": base,
                "rest_instance_url": base,
            }
        )

    def error_response(self, error: HeraldError) -> Response:
        code = getattr(error, "error", None) or ("invalid_request" if error.status < 500 else "server_error")
        return Response(
            {"error": code, "error_description": error.message, "error_uri": ""}, status=error.status
        )


class MessagingView(DialectView):
    def error_response(self, error: HeraldError) -> Response:
        body: dict[str, Any] = {
            "message": error.message,
            "errorcode": _error_code(error.status),
            "documentation": "",
        }
        if error.problems:
            body["validationErrors"] = [
                {"message": p.message, "errorcode": _error_code(error.status), "path": p.field}
                for p in error.problems
            ]
        response = Response(body, status=error.status)
        if error.status == status.HTTP_401_UNAUTHORIZED:
            response["WWW-Authenticate"] = 'Bearer realm="herald"'
        return response

    def token(self, request, *scopes: str) -> ApiToken:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        token = access_token_check(value.strip()) if scheme.lower() == "bearer" and value.strip() else None
        if token is None:
            raise Unauthorized("Not Authorized")
        if not any(token.has_scope(scope) for scope in scopes):
            raise Forbidden(f"Insufficient privileges: the API token lacks the '{scopes[0]}' scope.")
        self.admit(request, token)
        return token


class SendView(MessagingView):
    authentication_classes = ()
    permission_classes = ()

    @send_operation
    def post(self, request, definition: str) -> Response:
        token = self.token(request, "send")
        campaign = _definition(token.org, definition)
        body = json_body(request)
        if not isinstance(body, dict):
            raise Invalid("The body must be a JSON object.", problems=[Problem("body", "Not an object.")])
        to = _member(body, "To")
        # A body it cannot read is a 400; only then is a missing or invalid address the vendor's 202.
        parsed = _parse(body, to)
        address = _address(_member(to, "Address"))
        if address is None:
            return Response(INVALID_ADDRESS, status=status.HTTP_202_ACCEPTED)
        command = TriggerCommand(
            recipients=[RecipientSpec(email=address, external_id=parsed["subscriber_key"])],
            context=parsed["attributes"],
            channel=Channel.EMAIL,
            from_email=parsed["from_email"],
            reference=str(uuid.uuid4()),
            source=SOURCE,
        )
        result = accept_in_dialect(
            org=token.org,
            campaign=campaign,
            command=command,
            token=token,
            idempotency_key=idempotency_key(request, SOURCE),
            fingerprint=request_fingerprint([SOURCE, campaign.pk, body]),
            rename=_field_name,
        )
        sync = parsed["sync"]
        sends = _dispatched(result.sends) if sync else result.sends
        return Response(
            {"requestId": result.trigger.reference, "responses": [_send_response(s, sync) for s in sends]},
            status=status.HTTP_202_ACCEPTED,
        )


class DeliveryRecordView(MessagingView):
    """Get Email Delivery Details: the send's status, by the recipientSendId its send answered."""

    authentication_classes = ()
    permission_classes = ()

    @delivery_record_operation
    def get(self, request, definition: str, recipient_send_id: str) -> Response:
        token = self.token(request, "read", "send")
        campaign = _definition(token.org, definition)
        try:
            send = send_get(org=token.org, send_id=str(uuid.UUID(recipient_send_id)), campaign=campaign)
        except (ValueError, NotFound) as exc:
            raise NotFound(f"No delivery record '{recipient_send_id}' for this definition.") from exc
        return Response(_delivery_record(send))


def _definition(org: Org, reference: str) -> Campaign:
    """`key:<external key>` is a campaign's key; `<GUID>` or `id:<GUID>` its object_id.

    The prefix is read in any case, as the path around it is; the key itself is matched as given.
    """
    prefix, colon, rest = reference.partition(":")
    prefix = prefix.lower() if colon else ""
    try:
        if prefix == "key":
            if not _is_key(rest):
                raise NotFound("Not a key.")
            return campaign_get(org=org, key=rest)
        return campaign_get(org=org, object_id=uuid.UUID(rest if prefix == "id" else reference))
    except (ValueError, NotFound) as exc:
        raise NotFound(f"No triggered send definition '{reference}'.") from exc


def _is_key(key: str) -> bool:
    return re.fullmatch(_KEY, key) is not None


def _member(data: Any, name: str) -> Any:
    """Marketing Cloud reads property names in any case (To, to); so does Herald."""
    if not isinstance(data, dict):
        return None
    return next((value for key, value in data.items() if key.lower() == name.lower()), None)


def _address(value: Any) -> str | None:
    if not isinstance(value, str) or len(value.strip()) > 254:
        return None
    email = normalize_email(value)
    try:
        validate_email(email)
    except ValidationError:
        return None
    return email


def _parse(body: dict, to: Any) -> dict:
    problems = []
    for name, value in (("To", to), ("Options", _member(body, "Options"))):
        if value is not None and not isinstance(value, dict):
            problems.append(Problem(name, "Must be an object."))
    address = _member(to, "Address")
    if address is not None and not isinstance(address, str):
        problems.append(Problem("To.Address", "Must be text: an email address."))
    subscriber_key = _member(to, "SubscriberKey")
    if subscriber_key is not None and not (
        isinstance(subscriber_key, str) and 0 < len(subscriber_key) <= 200
    ):
        problems.append(Problem("To.SubscriberKey", "Must be text of 1 to 200 characters."))
    attributes = _member(_member(to, "ContactAttributes"), "SubscriberAttributes")
    if _member(to, "ContactAttributes") is not None and not isinstance(
        _member(to, "ContactAttributes"), dict
    ):
        problems.append(Problem("To.ContactAttributes", "Must be an object."))
    if attributes is not None and not isinstance(attributes, dict):
        problems.append(
            Problem("To.ContactAttributes.SubscriberAttributes", "Must be an object of names and values.")
        )
    from_email = _from(_member(body, "From"), problems)
    request_type = _member(_member(body, "Options"), "RequestType")
    request_type = "ASYNC" if request_type is None else request_type
    if not isinstance(request_type, str) or request_type.upper() not in ("ASYNC", "SYNC"):
        problems.append(Problem("Options.RequestType", "Must be ASYNC or SYNC."))
    if problems:
        raise Invalid(f"The request has {len(problems)} problem(s).", problems=problems)
    return {
        "subscriber_key": subscriber_key,
        "attributes": attributes,
        "from_email": from_email,
        "sync": request_type.upper() == "SYNC",
    }


def _from(sender: Any, problems: list[Problem]) -> str | None:
    if sender is None:
        return None
    if not isinstance(sender, dict):
        problems.append(Problem("From", "Must be an object with Address and Name."))
        return None
    address, name = _address(_member(sender, "Address")), _member(sender, "Name")
    if address is None:
        problems.append(Problem("From.Address", "Must be an email address."))
        return None
    if name is not None and not (isinstance(name, str) and len(name) <= 200 and name.isprintable()):
        problems.append(Problem("From.Name", "Must be one line of at most 200 characters."))
        return None
    return formataddr((name, address)) if name else address


def _dispatched(sends: list[Send]) -> list[Send]:
    """SYNC: dispatch now, in this request, and answer the outcome; the sends were committed already."""
    queued = [send.pk for send in sends if send.status == Send.Status.QUEUED]
    if queued:
        try:
            sends_dispatch(send_ids=queued)
        except Exception:  # the sweep dispatches it later; the caller is told it is queued
            logger.exception("SYNC dispatch of sends %s failed", queued)
    current = sends_by_ids(send_ids=[send.pk for send in sends])
    # A worker may have claimed the send first (the task was enqueued on commit): wait for its outcome.
    deadline = time.monotonic() + SYNC_WAIT_SECONDS
    while queued and any(s.status == Send.Status.SENDING for s in current) and time.monotonic() < deadline:
        time.sleep(0.2)
        current = sends_by_ids(send_ids=[send.pk for send in sends])
    return current


def _send_response(send: Send, sync: bool) -> dict:
    response: dict[str, Any] = {"recipientSendId": str(send.correlation_id)}
    if not sync or send.status in _PENDING:
        return {**response, "hasErrors": False, "messages": ["Queued"]}
    if send.status in _SENT:
        return {**response, "hasErrors": False, "messages": ["Sent"]}
    return {**response, "hasErrors": True, "messageErrors": [_message_error(send)]}


def _message_error(send: Send) -> dict:
    if send.status == Send.Status.SUPPRESSED:
        code, text = NO_VALID_SUBSCRIBERS
    elif send.status == Send.Status.EXPIRED:
        code, text = 180011, "Not sent before it expired."
    else:
        code, text = 180010, f"Not sent: {send.last_error or send.status}"
    return {"messageErrorCode": code, "messageErrorStatus": text}


def _delivery_record(send: Send) -> dict:
    record: dict[str, Any] = {
        "deliveryTime": _delivery_time(send),
        "id": str(send.correlation_id),
        "messageId": str(send.correlation_id),
        "status": "Queued" if send.status in _PENDING else ("Sent" if send.status in _SENT else "NotSent"),
        "to": {
            "address": send.to_address,
            "id": send.recipient_id,
            "key": (send.recipient.external_id if send.recipient else None) or send.to_address,
        },
    }
    if record["status"] == "NotSent":
        record["messageErrors"] = [_message_error(send)]
    return record


def _delivery_time(send: Send) -> str | None:
    # The vendor's format: UTC here, to the millisecond, without an offset.
    return send.sent_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] if send.sent_at else None


def _error_code(status_code: int) -> int:
    # Marketing Cloud answers 0 with "Not Authorized"; Herald's other codes are 10000 + (status - 400).
    if status_code in (401, 403):
        return 0
    return 10000 + status_code - 400 if status_code < 500 else 10100


def _field_name(field: str) -> str:
    hit = recipient_field(field)
    if hit is None:
        return {"channel": "definition", "campaign": "definition", "from": "From"}.get(field, field)
    _, rest = hit
    if rest.startswith(".context"):
        return "To.ContactAttributes.SubscriberAttributes" + rest[len(".context") :]
    if rest == ".external_id":
        return "To.SubscriberKey"
    return "To.Address" if rest in ("", ".email") else f"To{rest}"
