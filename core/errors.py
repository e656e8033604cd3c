"""Domain errors. Services raise these; config.api_errors and each dialect turn them into responses."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    field: str
    message: str

    def as_dict(self) -> dict:
        return {"field": self.field, "message": self.message}


class HeraldError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, *, problems: list[Problem] | None = None):
        super().__init__(message)
        self.message = message
        self.problems = problems or []


class Invalid(HeraldError):
    """The request names something wrong; `problems` says what, field by field."""


class NotFound(HeraldError):
    status = 404
    code = "not_found"


class Conflict(HeraldError):
    status = 409
    code = "conflict"


def error_body(code: str, message: str, problems: list[Problem] | None = None) -> dict:
    """The native API's error envelope: {"error": {"code", "message", "problems": [{"field", "message"}]}}."""
    return {"error": {"code": code, "message": message, "problems": [p.as_dict() for p in problems or []]}}
