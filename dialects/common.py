"""What the dialects share: reading the body, credentials, and any failure in the vendor's shape."""

import json
import logging
import math
import re
from collections.abc import Callable
from typing import Any

import json5
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import QueryDict
from rest_framework import exceptions
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView, set_rollback

from campaigns.models import Campaign
from core.errors import MAX_PROBLEMS, HeraldError, Invalid, Problem
from core.inputs import json_problem, name_problem
from core.wire import JSONRenderer
from dialects.openapi import ID_MAX, DialectAutoSchema
from intake.accept import TriggerResult, trigger_accept
from intake.commands import TriggerCommand
from orgs.auth import ApiClient
from orgs.auth_failures import AuthFailures
from orgs.models import ApiToken, Org
from orgs.services import token_authenticate

logger = logging.getLogger(__name__)

# The lenient (JSON5) reading is a pure-Python parser: kept for the small bodies it exists for.
LENIENT_MAX_BYTES = 256 * 1024
IDEMPOTENCY_KEY_MAX = 200


class Unauthorized(HeraldError):
    status = 401
    code = "unauthorized"


class Forbidden(HeraldError):
    status = 403
    code = "forbidden"


class NotAllowed(HeraldError):
    status = 405
    code = "method_not_allowed"


class TooLarge(HeraldError):
    status = 413
    code = "too_large"


class ServerFault(HeraldError):
    status = 500
    code = "internal"


class JsonOnly(BaseContentNegotiation):
    """Vendors' clients send all sorts of Accept headers; each dialect answers JSON, as its vendor does."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class DialectView(APIView):
    """A vendor endpoint: it reads its own body and credentials, and renders every failure its vendor's way.

    Subclasses set `authentication_classes` and `permission_classes` themselves (empty: each dialect
    authenticates as its vendor does) and implement `error_response`.
    """

    parser_classes = ()
    renderer_classes = (JSONRenderer,)
    content_negotiation_class = JsonOnly
    schema = DialectAutoSchema()

    def error_response(self, error: HeraldError) -> Response:
        raise NotImplementedError

    def initial(self, request, *args, **kwargs) -> None:
        # Herald's middleware leaves an oversized body to the view, to refuse in the vendor's shape.
        too_large = oversized_body(request)
        if too_large is not None:
            raise too_large
        wait = AuthFailures.wait(request)
        if wait is not None:
            raise exceptions.Throttled(wait, "Too many failed authentications from this address.")
        super().initial(request, *args, **kwargs)

    def admit(self, request, token: ApiToken) -> None:
        """Count the request against its org's rate limit, as the native API does; over it, a 429.

        The dialects authenticate inside the view, after DRF checked its throttles for an anonymous
        caller, so they check again once the org is known.
        """
        request.user = ApiClient(token=token)
        self.check_throttles(request)

    def handle_exception(self, exc: Exception) -> Response:
        error = as_herald_error(exc)
        if error is None:
            logger.exception("%s failed on %s", type(self).__name__, self.request.path)
            error = ServerFault("The request failed on the server; it has been logged.")
        set_rollback()
        # Each vendor's shape lists the problems its own way; at most MAX_PROBLEMS, as the native API does,
        # so a refused 100,000-item body answers briefly (#17).
        error.problems = error.problems[:MAX_PROBLEMS]
        if isinstance(error, Unauthorized):
            AuthFailures.record(self.request)
        response = self.error_response(error)
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            response["Retry-After"] = str(math.ceil(exc.wait))
        return response


def as_herald_error(exc: Exception) -> HeraldError | None:
    """A domain error for what went wrong, or None for a fault of the server's own."""
    if isinstance(exc, HeraldError):
        return exc
    if isinstance(exc, exceptions.MethodNotAllowed):
        return NotAllowed(str(exc.detail))
    if isinstance(exc, exceptions.AuthenticationFailed | exceptions.NotAuthenticated):
        return Unauthorized(str(exc.detail))
    if isinstance(exc, exceptions.PermissionDenied):
        return Forbidden(str(exc.detail))
    if isinstance(exc, RequestDataTooBig):
        return TooLarge("The request body is too large.", problems=[Problem("body", "Too large.")])
    if isinstance(exc, SuspiciousOperation):
        return Invalid(f"The request was refused: {exc}")
    if isinstance(exc, exceptions.APIException):
        error = HeraldError(str(exc.detail))
        error.status = exc.status_code
        return error
    return None


def oversized_body(request) -> TooLarge | None:
    """The 413 for a body declared larger than HERALD_MAX_REQUEST_BYTES, found before anything reads it."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    limit = settings.HERALD_MAX_REQUEST_BYTES
    if length <= limit:
        return None
    message = f"The request body is {length} bytes; at most {limit} are accepted."
    return TooLarge(message, problems=[Problem("body", message)])


def json_body(request, *, lenient: bool = False) -> Any:
    """The body as JSON, or Invalid saying why not. `lenient` also reads JSON5 (unquoted keys and such)."""
    raw = request.body
    if not raw.strip():
        raise Invalid("The request has no body.", problems=[Problem("body", "A JSON body is required.")])
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        if not (lenient and len(raw) <= LENIENT_MAX_BYTES):
            raise Invalid("The body is not valid JSON.", problems=[Problem("body", str(exc))]) from exc
        value = _json5(raw, exc)
    problem = json_problem(value)
    if problem:
        raise Invalid("The body holds a value Herald cannot store.", problems=[problem])
    return value


def _json5(raw: bytes, strict_error: Exception) -> Any:
    try:
        return json5.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise Invalid("The body is not valid JSON.", problems=[Problem("body", str(strict_error))]) from exc


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number.")


def form_or_json_body(request) -> dict:
    """A JSON object, or an application/x-www-form-urlencoded body as a dict of its first values."""
    content_type = request.content_type or ""
    if content_type.startswith("application/x-www-form-urlencoded"):
        try:
            form = QueryDict(request.body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise Invalid("The form body is not UTF-8.") from exc
        return {key: form.get(key) for key in form}
    body = json_body(request)
    if not isinstance(body, dict):
        raise Invalid("The body must be a JSON object.", problems=[Problem("body", "Not an object.")])
    return body


def api_token(secret: Any) -> ApiToken | None:
    if not isinstance(secret, str) or not secret.strip() or len(secret) > 200:
        return None
    return token_authenticate(secret=secret.strip())


def require_scope(token: ApiToken, *scopes: str) -> None:
    if not any(token.has_scope(scope) for scope in scopes):
        raise Forbidden(f"This API token lacks the '{scopes[0]}' scope.")


def idempotency_key(request, source: str) -> str | None:
    """The caller's Idempotency-Key header, namespaced by dialect so two dialects never share a key."""
    key = _header_key(request)
    return f"{source}:{key}" if key else None


def caller_reference(request) -> str:
    """The Idempotency-Key as the caller gave it: the trigger's reference where the vendor's body has no id.

    It names the event in the caller's system, so the caller finds the trigger and its sends by it
    (?reference=), and it is in every webhook about them.
    """
    return _header_key(request)


def _header_key(request) -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    problem = f"At most {IDEMPOTENCY_KEY_MAX} characters." if len(key) > IDEMPOTENCY_KEY_MAX else None
    # Stored as the trigger's reference, it reaches logs and webhooks: one line, like any other name.
    problem = problem or (name_problem(key) if key else None)
    if problem:
        raise Invalid(
            "The Idempotency-Key header is not one Herald takes.",
            problems=[Problem("Idempotency-Key", problem)],
        )
    return key


_DIGITS = re.compile(r"[0-9]{1,18}")
_RECIPIENT_FIELD = re.compile(r"^recipients\[(\d+)\](.*)$")


def rename_problems(problems: list[Problem], rename: Callable[[str], str]) -> list[Problem]:
    return [Problem(rename(p.field), p.message) for p in problems]


def accept_in_dialect(
    *,
    org: Org,
    campaign: Campaign,
    command: TriggerCommand,
    token: ApiToken,
    idempotency_key: str | None,
    fingerprint: str,
    rename: Callable[[str], str],
    refusals: tuple[type[HeraldError], ...] = (Invalid,),
) -> TriggerResult:
    """The one intake every API calls, its refusals naming the fields as the vendor's body spells them."""
    try:
        return trigger_accept(
            org=org, campaign=campaign, command=command, token=token,
            idempotency_key=idempotency_key, fingerprint=fingerprint,
        )  # fmt: skip
    except refusals as exc:
        raise Invalid(exc.message, problems=rename_problems(exc.problems, rename)) from exc


def recipient_field(field: str) -> tuple[int, str] | None:
    """("recipients[2].context.x") -> (2, ".context.x"): which recipient of the command a problem is about."""
    match = _RECIPIENT_FIELD.match(field)
    return (int(match.group(1)), match.group(2)) if match else None


def integer(value: Any) -> int | None:
    """An id given as a JSON integer or as digits in text (vendors' documents show both)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -ID_MAX <= value <= ID_MAX else None
    if isinstance(value, str) and is_digits(value.strip()):
        return int(value.strip())
    return None


def is_digits(value: str) -> bool:
    """1 to 18 ASCII digits, an id the database holds (str.isdigit() takes "²" too, which int() refuses)."""
    return _DIGITS.fullmatch(value) is not None
