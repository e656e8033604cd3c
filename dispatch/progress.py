"""Is dispatch making progress? Due sends, the oldest one's age, and when a worker last finished a chunk.

Dispatch is stalled when sends have been due for longer than the lease and no worker has finished a
chunk in that time: a healthy worker finishes one well inside half a lease (dispatch/chunk.py), and a
queue that waits that long has lost its workers. Read from the database, so it is the same answer
whichever process asks, and it does not depend on the process that is stuck.
"""

import time
from dataclasses import asdict, dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Max, Min
from django.db.models.functions import Coalesce
from django.utils import timezone

from sends.models import Send

from .models import WorkerProgress

Status = Send.Status
NOTE_EVERY_SECONDS = 1.0  # one write a second per process at most, however small its chunks
_noted: dict[str, float] = {}


def progress_note(*, worker: str) -> None:
    """Record that `worker` just finished a chunk."""
    last = _noted.get(worker)
    if last is not None and time.monotonic() - last < NOTE_EVERY_SECONDS:
        return
    WorkerProgress.objects.update_or_create(worker=worker, defaults={"finished_at": timezone.now()})
    _noted[worker] = time.monotonic()


@dataclass(frozen=True)
class DispatchState:
    due: int  # queued, scheduled and due, or claimed by a worker
    oldest_due_seconds: float | None  # since the oldest of them became due (accepted, or scheduled for)
    last_progress_seconds: float | None  # since a worker (this one, if asked for one) finished a chunk
    stalled: bool
    reason: str

    def as_dict(self) -> dict:
        return asdict(self)


def dispatch_state(*, worker: str | None = None, now: datetime | None = None) -> DispatchState:
    """The state of dispatch as a whole, or as one worker sees it: stalled while due work waits on it."""
    now = now or timezone.now()
    lease = settings.HERALD_LEASE_SECONDS
    # When each send became due: when it was accepted, or the time it was scheduled for (a delay, a
    # retry). Not `queued_at` or `claimed_at`: the sweep renews those each time it re-queues a send, so
    # a queue that the sweep keeps re-publishing to a worker that never takes it would look fresh.
    became_due = Coalesce("scheduled_at", "created_at")
    # The partial indexes send_queued, send_due and send_sending find the rows.
    waiting = [
        Send.objects.filter(status=Status.QUEUED).aggregate(n=Count("pk"), since=Min(became_due)),
        Send.objects.filter(status=Status.SCHEDULED, scheduled_at__lte=now).aggregate(
            n=Count("pk"), since=Min("scheduled_at")
        ),
        Send.objects.filter(status=Status.SENDING).aggregate(n=Count("pk"), since=Min(became_due)),
    ]
    due = sum(row["n"] for row in waiting)
    since = [row["since"] for row in waiting if row["since"] is not None]
    oldest = (now - min(since)).total_seconds() if since else None

    progress = WorkerProgress.objects.filter(worker=worker) if worker else WorkerProgress.objects.all()
    last = progress.aggregate(last=Max("finished_at"))["last"]
    last_seconds = (now - last).total_seconds() if last else None

    stalled = oldest is not None and oldest > lease and (last_seconds is None or last_seconds > lease)
    reason = ""
    if stalled:
        who = f"worker {worker}" if worker else "a worker"
        when = f"{last_seconds:.0f} s ago" if last_seconds is not None else "never"
        reason = (
            f"{due} sends due, the oldest for {oldest:.0f} s (the lease is {lease} s); "
            f"{who} last finished a chunk {when}"
        )
    return DispatchState(due, _rounded(oldest), _rounded(last_seconds), stalled, reason)


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)
