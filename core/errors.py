"""Domain errors. Services raise these; config.api_errors and each dialect turn them into responses."""

from dataclasses import dataclass

from core.text import printable

# At most this many problems per answer, each message at most MESSAGE_CHARS: a refusal stays short
# whatever it refuses.
MAX_PROBLEMS = 100
MESSAGE_CHARS = 500


@dataclass(frozen=True)
class Problem:
    field: str
    message: str

    def as_dict(self) -> dict:
        return {"field": printable(self.field), "message": printable(self.message, MESSAGE_CHARS)}


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
    listed = [p.as_dict() for p in (problems or [])[:MAX_PROBLEMS]]
    return {"error": {"code": code, "message": printable(message, MESSAGE_CHARS), "problems": listed}}
