"""Handing queued sends to the dispatch workers: the one message the send log publishes.

The send log names the task rather than importing it: dispatch, above the send log, consumes it
(dispatch.tasks registers itself under this name), so the arrow runs from dispatch to here, as the data does.
"""

from collections.abc import Iterable

from celery import current_app
from django.conf import settings
from django.db import transaction

# The name on the wire, kept from when the task lived in mailings/tasks.py: during a rolling upgrade the
# messages already queued, and those an older web process still publishes, run on the new workers.
DISPATCH_TASK = "mailings.tasks.dispatch_sends"


def sends_enqueue(*, send_ids: Iterable[int], on_commit: bool = True) -> None:
    """Queue dispatch work in chunks. After commit, so a worker never looks for a row not yet there."""
    ids = list(send_ids)
    if not ids:
        return

    # A few sends (a password reset, an order confirmation) have a queue of their own, which workers take
    # turns with the bulk one: a large campaign ahead of them in the queue never holds them up.
    queue = settings.HERALD_INTERACTIVE_QUEUE if len(ids) <= settings.HERALD_INTERACTIVE_MAX_SENDS else None

    def publish() -> None:
        dispatch_sends = current_app.signature(DISPATCH_TASK)
        size = settings.HERALD_CHUNK_SIZE
        for start in range(0, len(ids), size):
            dispatch_sends.apply_async((ids[start : start + size],), queue=queue)

    if on_commit:
        # robust: a broker outage must not turn an accepted, committed trigger into an error; the sweep
        # re-enqueues whatever was not published.
        transaction.on_commit(publish, robust=True)
    else:
        publish()
