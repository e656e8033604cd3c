"""Provider calls in flight at once: a chunk's sends overlap their round trips on the process's threads.

A provider answers in 50-500 ms, during which one send at a time would leave the worker idle. The task's
own thread still renders every send and does all the database and journal work, in order; only the
provider call moves to a thread. Sends start in id order, and a send starts only while fewer than
`size` started sends are without a safe outcome (journaled, or in the send log): so of a dead worker's
unrecorded sends, only the `size` lowest ids can have reached the provider (dispatch/sweep.py).
"""

import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from django.conf import settings

from .record import Outcome

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
    def __init__(self, size: int):
        self.size = size
        self.pending: set[Future] = set()

    def start(self, call: Callable[..., Outcome], *args) -> list[Outcome]:
        """Start `call(*args)`, after making room: the outcomes that finished meanwhile."""
        if self.size == 1:  # nothing to overlap: no thread to hand over to
            return [call(*args)]
        self.pending.add(_pool().submit(call, *args))
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
