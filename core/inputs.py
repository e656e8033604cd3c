"""What every API refuses in what it is given, whichever floor reads it: one set of rules, named once.

- JSON: nested at most MAX_DEPTH levels, no NUL characters, no lone surrogates, finite numbers. PostgreSQL
  cannot store a NUL or a lone surrogate, and a value deeper than the interpreter's recursion limit breaks
  whatever serialises it again later (a GET, a webhook, the send log).
- Names and addresses: no control characters. They end up in email headers, where a line break starts a
  header of the sender's choosing.
- Sender addresses: one address, with an optional display name.
- Dates: within MIN_YEAR and a year from now for anything scheduled, so arithmetic on them (a delay added,
  a time zone taken off) can never leave the range Python and the database hold.
- Locales: BCP 47 language tags (de, de-AT, zh-Hant-TW), as a path segment or a header they stay inert.

Every check returns a message (or a Problem) rather than raising, so each API words the refusal its way.
"""

import functools
import math
import re
import unicodedata
import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.errors import Problem
from core.text import printable

MAX_DEPTH = 64
# A delay or a scheduled date at most this far ahead: the trigger's `delay`, a campaign's delay_seconds,
# send_at and expires_at alike.
MAX_SCHEDULE_SECONDS = 366 * 24 * 3600
MIN_YEAR = 2000

# "Shop <shop@example.com>", '"Shop, Berlin" <shop@example.com>' or a bare address: one mailbox.
_SENDER = re.compile(r'(?:(?:"[^"\\]*"|[^"<>,@]*?)\s*<(?P<address>[^<>\s]+)>|(?P<bare>[^<>\s,"]+))')
_BCP47 = re.compile(r"[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8})*")


def json_problem(value: Any, field: str = "") -> Problem | None:
    """The first reason this parsed JSON cannot be stored, naming where it is (attributes.x[2]), or None.

    Iterative, so a value of any depth is walked without recursion.
    """
    stack = [(value, 0, field)]
    while stack:
        item, depth, path = stack.pop()
        if depth > MAX_DEPTH:
            return Problem(path or "body", f"Nested deeper than {MAX_DEPTH} levels.")
        if isinstance(item, dict):
            for key, child in item.items():
                problem = text_problem(key) if isinstance(key, str) else None
                child_path = _join(path, printable(str(key)))
                if problem:
                    return Problem(child_path, f"{problem} (in a key)")
                stack.append((child, depth + 1, child_path))
        elif isinstance(item, list):
            stack.extend((child, depth + 1, f"{path}[{i}]") for i, child in enumerate(item))
        elif isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return Problem(path or "body", problem)
        elif isinstance(item, float) and not math.isfinite(item):
            return Problem(path or "body", "Numbers must be finite.")
    return None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def text_problem(value: str) -> str | None:
    """Why this text cannot be stored anywhere (a NUL, a lone surrogate), or None."""
    if "\x00" in value:
        return "Text must not contain NUL (\\u0000) characters."
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "Text must not contain unpaired surrogate escapes (\\ud800 to \\udfff)."
    return None


def name_problem(value: str) -> str | None:
    """Why this name, id or address cannot be used (control characters such as CR, LF, TAB), or None."""
    problem = text_problem(value)
    if problem:
        return problem
    if "\r" in value or "\n" in value:
        return "Must not contain line breaks."
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        return "Must not contain control characters."
    return None


def sender_problem(value: str) -> str | None:
    """Why this is not one sender address ("Shop <shop@example.com>" or "shop@example.com"), or None."""
    problem = name_problem(value)
    if problem:
        return problem
    match = _SENDER.fullmatch(value.strip())
    address = match and (match.group("address") or match.group("bare"))
    try:
        validate_email(address or "")
    except ValidationError:
        return f"'{printable(value)}' is not one email address such as \"Shop <shop@example.com>\"."
    return None


def locale_problem(value: str) -> str | None:
    """Why this is not a BCP 47 language tag such as de or de-AT, or None. Empty means none."""
    if value and not (len(value) <= 35 and _BCP47.fullmatch(value)):
        return f"'{printable(value)}' is not a language tag such as de or de-AT."
    return None


def datetime_parse(value: str, *, field: str, future: bool = True) -> tuple[datetime | None, Problem | None]:
    """An ISO 8601 date-time with a time zone, in UTC and within range; or the Problem with it.

    `future` dates (send_at, expires_at) are at most MAX_SCHEDULE_SECONDS ahead, as a delay is.
    """
    try:
        parsed = parse_datetime(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        return None, Problem(field, f"'{printable(value)}' is not an ISO 8601 date-time with a time zone.")
    try:
        # Year 1 at +14:00 is in year 0 in UTC, and year 9999 at -23:59 in year 10000: neither exists.
        parsed = parsed.astimezone(UTC)
    except OverflowError:
        parsed = None
    problem = datetime_range_problem(parsed, future=future)
    if problem:
        return None, Problem(field, problem)
    return parsed, None


def datetime_range_problem(value: datetime | None, *, future: bool = True) -> str | None:
    latest = timezone.now() + timedelta(seconds=MAX_SCHEDULE_SECONDS)
    if value is None or value.year < MIN_YEAR or (future and value > latest):
        days = MAX_SCHEDULE_SECONDS // 86400
        return f"Must be a date-time from the year {MIN_YEAR} to {days} days from now."
    return None


def delay_problem(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SCHEDULE_SECONDS:
        return f"Give whole seconds from 0 to {MAX_SCHEDULE_SECONDS} (366 days)."
    return None


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def timezone_problem(value: str) -> str | None:
    """Why this is not an IANA time zone name (Europe/Berlin, Asia/Tokyo, UTC), or None; empty is none."""
    if value and value not in _zones():
        return f"'{printable(value[:64])}' is not an IANA time zone such as Europe/Berlin."
    return None


def validate_timezone(value: str) -> None:
    """A model field's validator: the admin's forms and the API's serializers run it."""
    problem = timezone_problem(value)
    if problem:
        raise ValidationError(problem)
