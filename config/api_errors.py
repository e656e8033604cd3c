"""One error envelope for the whole native API:

{"error": {"code": "invalid", "message": "…", "problems": [{"field": "recipients[0].email", "message": "…"}]}}
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import HeraldError, Problem, error_body


def flatten(detail, prefix: str = "") -> list[Problem]:
    """DRF's nested error detail as a flat list of (field path, message)."""
    if isinstance(detail, dict):
        problems = []
        for key, value in detail.items():
            name = "" if key == "non_field_errors" else str(key)
            path = f"{prefix}.{name}" if prefix and name else (prefix or name)
            problems += flatten(value, path)
        return problems
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [Problem(prefix or "body", str(item)) for item in detail]
        problems = []
        for i, item in enumerate(detail):
            if item:
                problems += flatten(item, f"{prefix}[{i}]")
        return problems
    return [Problem(prefix or "body", str(detail))]


def exception_handler(exc, context):
    if isinstance(exc, HeraldError):
        return Response(error_body(exc.code, exc.message, exc.problems), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        problems = flatten(exc.detail)
        n = len(problems)
        response.data = error_body(
            "invalid", f"The request has {n} problem{'s' if n != 1 else ''}.", problems
        )
    else:
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else "error"
        response.data = error_body(code, str(exc.detail))
    if response.status_code == status.HTTP_401_UNAUTHORIZED:
        response["WWW-Authenticate"] = 'Bearer realm="herald"'
    return response
