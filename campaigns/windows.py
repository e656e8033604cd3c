"""Send windows: the hours of the week, in the recipient's own time zone, when a campaign's sends may go.

A window is `{"days": "mon-sat", "start": "08:00", "end": "20:00"}` (days also as a list, `["sat", "sun"]`);
a campaign's windows are a list of them, and none means any time. Times are wall-clock times in the
recipient's zone, so a window opens at 08:00 in Tokyo and in Los Angeles alike, and across a change of
daylight-saving time (zoneinfo): an opening that falls in the hour skipped in spring is the first moment
after it.
"""

import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.core.exceptions import ValidationError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MAX_WINDOWS = 21


@dataclass(frozen=True)
class Window:
    days: frozenset[int]  # Monday is 0, as date.weekday() counts
    start: time
    end: time | None  # None: midnight at the end of the day

    def __str__(self) -> str:
        days = ",".join(DAYS[d] for d in sorted(self.days))
        return f"{days} {self.start:%H:%M}-{self.end.strftime('%H:%M') if self.end else '24:00'}"


def windows_problems(value) -> list[tuple[str, str]]:
    """(where, what is wrong) for each problem of a campaign's windows, where is e.g. "[0].start"."""
    if value in (None, []):
        return []
    if not isinstance(value, list):
        return [("", 'Give a list of windows such as {"days": "mon-fri", "start": "08:00", "end": "20:00"}.')]
    if len(value) > MAX_WINDOWS:
        return [("", f"At most {MAX_WINDOWS} windows.")]
    problems = []
    for i, window in enumerate(value):
        if not isinstance(window, dict) or set(window) - {"days", "start", "end"}:
            problems.append((f"[{i}]", "A window has days, start and end, and nothing else."))
            continue
        if _days(window.get("days")) is None:
            problems.append((f"[{i}].days", "Give days as 'mon-fri', 'sat' or a list: ['sat', 'sun']."))
        start, end = window.get("start"), window.get("end")
        if not isinstance(start, str) or not _TIME.match(start):
            problems.append((f"[{i}].start", "Give a time of day as HH:MM, from 00:00 to 23:59."))
        if not isinstance(end, str) or not (_TIME.match(end) or end == "24:00"):
            problems.append((f"[{i}].end", "Give a time of day as HH:MM, up to 24:00."))
        elif isinstance(start, str) and _TIME.match(start) and end != "24:00" and end <= start:
            problems.append((f"[{i}].end", "Must be after start (a window ends on the day it starts)."))
    return problems


def validate_windows(value) -> None:
    """The model field's validator: the admin's form and the API's serializer both run it."""
    problems = windows_problems(value)
    if problems:
        raise ValidationError("; ".join(f"send_windows{where}: {what}" for where, what in problems))


def windows_parse(value) -> list[Window]:
    return [
        Window(
            days=_days(w["days"]),
            start=time.fromisoformat(w["start"]),
            end=None if w["end"] == "24:00" else time.fromisoformat(w["end"]),
        )
        for w in value or []
    ]


def _days(value) -> frozenset[int] | None:
    names = value if isinstance(value, list) else [value]
    days: set[int] = set()
    for name in names:
        if not isinstance(name, str):
            return None
        first, _, last = name.strip().lower().partition("-")
        if first not in DAYS or (last and last not in DAYS):
            return None
        a, b = DAYS.index(first), DAYS.index(last or first)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])  # "sat-mon" wraps
    return frozenset(days) or None


def hold_reason(windows: list[Window], zone: str) -> str:
    """What a send held for a window says of why it waits (Send.held)."""
    return f"Held for the campaign's send window ({', '.join(map(str, windows))}) in {zone}."


def next_opening(windows: list[Window], zone: str, at: datetime) -> datetime | None:
    """When a send due at `at` may go: None if `at` is in a window, else the next window's opening (UTC)."""
    if not windows:
        return None
    tz = zoneinfo.ZoneInfo(zone or "UTC")
    at = at.astimezone(UTC)
    today = at.astimezone(tz).date()
    openings = []
    for offset in range(-1, 8):  # yesterday's window may still be open in a zone far east of UTC
        day = today + timedelta(days=offset)
        for window in windows:
            if day.weekday() not in window.days:
                continue
            opens, closes = _instant(day, window.start, tz), _closing(day, window.end, tz)
            if opens <= at < closes:
                return None
            if opens > at:
                openings.append(opens)
    return min(openings)


def _instant(day: date, when: time, tz: zoneinfo.ZoneInfo) -> datetime:
    # A wall time skipped in spring (fold=0 reads it with the offset before the change) lands after the gap.
    return datetime.combine(day, when, tzinfo=tz).astimezone(UTC)


def _closing(day: date, end: time | None, tz: zoneinfo.ZoneInfo) -> datetime:
    return _instant(day + timedelta(days=1), time(0), tz) if end is None else _instant(day, end, tz)
