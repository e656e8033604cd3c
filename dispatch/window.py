"""Provider calls in flight at once: a chunk's sends overlap their round trips on the process's threads.

A provider answers in 50-500 ms, during which one send at a time would leave the worker idle. The task's
own thread still renders every send and does all the database and journal work, in order; only the
provider call moves to a thread. Sends start in id order, and a send starts only while fewer than
`size` started sends are without a safe outcome (journaled, or in the send log): so of a dead worker's
unrecorded sends, only the `size` lowest ids can have reached the provider (dispatch/sweep.py).

A call also waits for its provider account's limits (dispatch/limits.py), on the task's thread before it
starts, so a send waiting for one holds no pool thread and starts in order; its slot is released on the
pool thread when the call returns.
"""

import math
import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from django.conf import settings

from sends.models import Send

from .attempt import Prepared
from .limits import Slot, account_pause, send_account, slot_acquire, slot_release
from .record import Outcome
from .routes import Route

# How channels.classify words a 429.
TOO_MANY = "provider answered 429"
MAX_PAUSE_SECONDS = 300.0  # a Retry-After of a day must not stop every worker for a day

_pools: dict[tuple[int, int], ThreadPoolExecutor] = {}


def _pool() -> ThreadPoolExecutor:
    # One pool a process, as large as the setting: a short chunk's smaller window uses fewer of its threads
    # (and their kept-alive connections) rather than a pool of its own. A forked Celery child must not use
    # its parent's threads, which it has not got.
    key = (os.getpid(), settings.HERALD_DISPATCH_IN_FLIGHT)
    if key not in _pools:
        _pools[key] = ThreadPoolExecutor(max_workers=key[1], thread_name_prefix="herald-provider")
    return _pools[key]


class Window:
    def __init__(self, size: int, *, until: float = math.inf):
        self.size = size
        self.until = until  # time.monotonic() past which no call starts
        self.pending: set[Future] = set()

    def start(
        self, call: Callable[..., Outcome], prepared: Prepared, routes: list[Route] | None = None
    ) -> list[Outcome] | None:
        """Start `call(prepared, routes)` once its provider's limits let it: the outcomes that finished
        meanwhile. None if they did not let it before `until`: it was not started.

        A send through its org's own providers (`routes`) waits for theirs in dispatch/routes.py.
        """
        account = None if routes else send_account(prepared.send)
        slot = None
        if account is not None:
            slot = slot_acquire(account, until=self.until)
            if slot is None:
                return None
        if self.size == 1:  # nothing to overlap: no thread to hand over to
            return [_limited(call, prepared, routes, slot)]
        self.pending.add(_pool().submit(_limited, call, prepared, routes, slot))
        return self.finished(block=False)

    def room(self) -> list[Outcome]:
        """Wait until another call may start: the outcomes that finished (to be made safe before it does)."""
        return self.finished(block=len(self.pending) >= self.size)

    def finished(self, *, block: bool) -> list[Outcome]:
        if not self.pending:
            return []
        done, self.pending = wait(self.pending, timeout=None if block else 0, return_when=FIRST_COMPLETED)
        # In id order, so a chunk's outcomes are journaled and recorded as they would be one by one.
        return sorted((future.result() for future in done), key=lambda outcome: outcome.send.pk)

    def drain(self) -> list[Outcome]:
        """Every call still in flight, waited for."""
        outcomes = []
        while self.pending:
            outcomes += self.finished(block=True)
        return outcomes


def _limited(
    call: Callable[..., Outcome], prepared: Prepared, routes: list[Route] | None, slot: Slot | None
) -> Outcome:
    if slot is None:
        return call(prepared, routes)
    try:
        outcome = call(prepared, routes)
    finally:
        slot_release(slot)
    pause = _pause_asked(outcome)
    if pause:
        account_pause(slot.account, pause)
    return outcome


def _pause_asked(outcome: Outcome) -> float:
    """Seconds every worker should leave the provider alone after this outcome: 0 unless it answered 429;
    then its Retry-After, or HERALD_PROVIDER_PAUSE_SECONDS where it gave none (or a shorter one)."""
    error = outcome.fields.get("last_error") or ""
    if outcome.status == Send.Status.SCHEDULED and error.startswith(TOO_MANY):
        return min(max(outcome.retry_after or 0.0, settings.HERALD_PROVIDER_PAUSE_SECONDS), MAX_PAUSE_SECONDS)
    return 0.0
