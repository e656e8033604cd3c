"""Handing deliveries to workers. The task that posts one is only a hint: the sweep hands any pending delivery
that is due (a retry, or a lost task) to a worker again. Named rather than imported: outbound_webhooks.tasks,
the top of this app, registers itself under this name.
"""

from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction

# The name on the wire, kept from when the task lived in mailings/tasks.py (see sends.queue.DISPATCH_TASK).
DELIVER_TASK = "mailings.tasks.deliver_webhook"
# Retried at least this long after the outcome: a receiver down for a day still hears of it.
RETRY_WINDOW = timedelta(hours=24)


def lease() -> timedelta:
    return timedelta(seconds=settings.HERALD_LEASE_SECONDS)


def deliveries_enqueue(items: list[tuple[int, int]], *, on_commit: bool = True) -> None:
    if not items:
        return

    def publish() -> None:
        for delivery_id, attempts in items:
            current_app.signature(DELIVER_TASK, args=(delivery_id, attempts)).apply_async()

    if on_commit:
        # robust: the outcome is committed and the sweep will find the delivery; a broker error must not
        # turn recording a send's outcome into a failure.
        transaction.on_commit(publish, robust=True)
    else:
        publish()
