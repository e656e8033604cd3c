"""What one render may spend, checked by the template engine itself, on whatever thread it runs.

A signal-based timer only fires in a process's main thread; a render in a threaded web server (the
Marketing Cloud dialect's synchronous send) or any other thread would run unbounded. So every {% for %}
iteration charges the budget and looks at the clock, and the output of each loop body is counted as it is
produced: three nested loops over a large context stop at the first bound they reach, on any thread.
"""

import contextlib
import contextvars
import time
from collections.abc import Iterator

from django.conf import settings


class BudgetExceeded(BaseException):
    """BaseException: Django swallows Exceptions in places ({% if %} conditions); this must get out."""


class RenderBudget:
    def __init__(self, *, seconds: float, iterations: int, chars: int):
        self.deadline = time.monotonic() + seconds if seconds > 0 else None
        self.seconds = seconds
        self.iterations_left = iterations
        self.chars_left = chars

    def iteration(self) -> None:
        self.iterations_left -= 1
        if self.iterations_left < 0:
            raise BudgetExceeded(f"looped more than {settings.HERALD_TEMPLATE_MAX_ITERATIONS} times")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise BudgetExceeded(f"took longer than {self.seconds}s to render")

    def output(self, chars: int) -> None:
        # A loop inside a loop is counted at both levels: a bound reached early, never one overrun.
        self.chars_left -= chars
        if self.chars_left < 0:
            raise BudgetExceeded(f"rendered to more than {settings.HERALD_TEMPLATE_MAX_CHARS} characters")


_current: contextvars.ContextVar[RenderBudget | None] = contextvars.ContextVar("render_budget", default=None)


@contextlib.contextmanager
def render_budget() -> Iterator[RenderBudget]:
    """The budget of the renders inside (a mailing's subject, text and html share one); nested: the outer."""
    budget = _current.get()
    if budget is not None:
        yield budget
        return
    budget = RenderBudget(
        seconds=settings.HERALD_TEMPLATE_TIME_LIMIT,
        iterations=settings.HERALD_TEMPLATE_MAX_ITERATIONS,
        chars=settings.HERALD_TEMPLATE_MAX_CHARS,
    )
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


def current_budget() -> RenderBudget | None:
    return _current.get()
