"""Idempotency-Key for every native API write: a retry answers the first response again and writes nothing."""

import hashlib
import json

from django.db import IntegrityError, transaction
from rest_framework import status
from rest_framework.response import Response

from core.errors import Conflict, Invalid, Problem, error_body
from orgs.models import IdempotentRequest

HEADER = "Idempotency-Key"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def request_fingerprint(payload) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class _AnsweredBefore(Exception):
    """Raised inside the write's transaction to roll it back: another request with the key committed first."""


class IdempotentWritesMixin:
    """Wraps each write in a transaction with the record of its answer, keyed by (org, Idempotency-Key).

    A key answered before is replayed (or, with another body, a 409) before the write runs. Otherwise the
    write runs and its answer is recorded last, in the same transaction: a concurrent request with the same
    key blocks on the unique index until the first commits, then rolls its own write back and answers the
    first one's response. Errors are not recorded, so a request refused for bad input can be corrected and
    retried with the same key.
    """

    # Actions that keep the key themselves (the trigger stores it on the Trigger, shared with the dialects).
    idempotency_handled_by_action: frozenset[str] = frozenset()
    # Fields of an answer shown once (a secret) and so never stored: a replay answers them as null.
    idempotency_unrecorded_fields: frozenset[str] = frozenset()

    def dispatch(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        action = getattr(self, "action_map", {}).get(request.method.lower())
        if (
            key is None
            or request.method not in UNSAFE_METHODS
            or action in self.idempotency_handled_by_action
        ):
            return super().dispatch(request, *args, **kwargs)
        try:
            with transaction.atomic():
                response = super().dispatch(request, *args, **kwargs)
                if self._records_answer(response):
                    self._record(key, response)
                elif status.is_client_error(response.status_code) or status.is_server_error(
                    response.status_code
                ):
                    transaction.set_rollback(True)
        except _AnsweredBefore:
            response = self.finalize_response(self.request, self._replay(key), *args, **kwargs)
        return response

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        key = request.headers.get(HEADER)
        if key is None or request.method not in UNSAFE_METHODS:
            return
        if not 0 < len(key) <= IdempotentRequest._meta.get_field("key").max_length:
            raise Invalid(
                "The Idempotency-Key header is not valid.",
                problems=[Problem(HEADER, "Give 1 to 255 characters.")],
            )
        if self.action in self.idempotency_handled_by_action:
            return
        # Read the body here, where a body that cannot be parsed is the 400 or 415 it should be; the replay
        # and the record below compare its fingerprint.
        path = request.get_full_path()  # the query too: ?erase=true is another request than ?erase=false
        self._idempotency_fingerprint = request_fingerprint([request.method, path, request.data])
        if self._answered(key):
            raise _AnsweredBefore

    def handle_exception(self, exc):
        if isinstance(exc, _AnsweredBefore):
            return self._replay(self.request.headers[HEADER])
        return super().handle_exception(exc)

    def _answered(self, key: str) -> bool:
        return IdempotentRequest.objects.filter(org=self.request.user.org, key=key).exists()

    def _records_answer(self, response) -> bool:
        return status.is_success(response.status_code) and getattr(self.request, "auth", None) is not None

    def _record(self, key: str, response) -> None:
        try:
            with transaction.atomic():
                IdempotentRequest.objects.create(
                    org=self.request.user.org,
                    key=key,
                    fingerprint=self._idempotency_fingerprint,
                    status_code=response.status_code,
                    body=self._recordable(response.data),
                )
        except IntegrityError:
            raise _AnsweredBefore from None

    def _recordable(self, data):
        if not isinstance(data, dict) or not self.idempotency_unrecorded_fields:
            return data
        return {k: None if k in self.idempotency_unrecorded_fields else v for k, v in data.items()}

    def _replay(self, key: str) -> Response:
        first = IdempotentRequest.objects.get(org=self.request.user.org, key=key)
        if first.fingerprint != self._idempotency_fingerprint:
            conflict = Conflict(
                "This Idempotency-Key was already used with a different request.",
                problems=[
                    Problem(HEADER, "Used before with a different method, path or body; use a new key.")
                ],
            )
            return Response(
                error_body(conflict.code, conflict.message, conflict.problems), status=conflict.status
            )
        response = Response(first.body, status=first.status_code)
        response["Idempotent-Replayed"] = "true"
        return response
