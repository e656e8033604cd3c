"""Who is told of an outcome: the endpoints that want it, and their deliveries, written with the outcome.

A delivery row is written in the same transaction as the outcome it tells of, so a worker that dies after
recording an outcome cannot lose its notification.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone

from sends.models import DeliveryEvent, Send, Trigger

from .endpoints import endpoint_wants
from .models import WebhookDelivery, WebhookEndpoint
from .payloads import Notification, TriggerRef, payload_for
from .queue import RETRY_WINDOW, deliveries_enqueue, lease

logger = logging.getLogger(__name__)


@dataclass
class Subscriptions:
    """The active endpoints of some sends' orgs, and what their payloads need: loaded once per chunk."""

    endpoints: dict[int, list[WebhookEndpoint]] = field(default_factory=dict)
    triggers: dict[int, TriggerRef] = field(default_factory=dict)

    def wanting(self, send: Send, status: str) -> list[WebhookEndpoint]:
        return [e for e in self.endpoints.get(send.org_id, ()) if endpoint_wants(e, status)]


def webhook_subscriptions_load(*, sends: Sequence[Send]) -> Subscriptions:
    """One query when no org of these sends has an endpoint: what keeps dispatch as fast as before."""
    subscriptions = Subscriptions()
    for endpoint in WebhookEndpoint.objects.filter(org_id__in={s.org_id for s in sends}, active=True):
        subscriptions.endpoints.setdefault(endpoint.org_id, []).append(endpoint)
    trigger_ids = {s.trigger_id for s in sends if s.trigger_id and s.org_id in subscriptions.endpoints}
    if trigger_ids:
        rows = Trigger.objects.filter(pk__in=trigger_ids).values_list("pk", "source", "reference")
        subscriptions.triggers = {pk: TriggerRef(source, reference) for pk, source, reference in rows}
    return subscriptions


def webhook_deliveries_create(
    *,
    subscriptions: Subscriptions,
    send: Send,
    status: str,
    error: str = "",
    event: DeliveryEvent | None = None,
) -> list[WebhookDelivery]:
    """A delivery for each endpoint that wants this outcome; call it in the transaction recording it."""
    deliveries = webhook_deliveries_build(
        subscriptions=subscriptions, send=send, status=status, error=error, event=event
    )
    return webhook_deliveries_save(deliveries=deliveries)


def webhook_deliveries_build(
    *,
    subscriptions: Subscriptions,
    send: Send,
    status: str,
    error: str = "",
    event: DeliveryEvent | None = None,
) -> list[WebhookDelivery]:
    """Unsaved deliveries for the endpoints that want this outcome, prepared before it is recorded."""
    endpoints = subscriptions.wanting(send, status)
    if not endpoints:
        return []
    now = timezone.now()
    deliveries = []
    try:
        for endpoint in endpoints:
            delivery = WebhookDelivery(
                endpoint=endpoint, send=send, event=status, created_at=now, retry_until=now + RETRY_WINDOW,
                next_attempt_at=now + lease(),  # the task published on commit goes first, the sweep after
            )  # fmt: skip
            delivery.payload = payload_for(
                endpoint.format,
                Notification(
                    public_id=str(delivery.public_id), send=send, status=status, occurred_at=now, error=error,
                    trigger=subscriptions.triggers.get(send.trigger_id), event=event,
                ),
            )  # fmt: skip
            deliveries.append(delivery)
    except Exception:
        # A fault here may cost a notification, never the outcome: an outcome that fails to record leaves its
        # send to be dispatched again, and a message sent twice is the worse of the two.
        logger.exception("send %s: the webhook payload for %s could not be built", send.pk, status)
        return []
    return deliveries


def webhook_deliveries_save(*, deliveries: list[WebhookDelivery]) -> list[WebhookDelivery]:
    """Insert them in the transaction that records their outcome, for the endpoints that still exist."""
    if not deliveries:
        return []
    alive = _lock_endpoints({d.endpoint_id for d in deliveries})
    created = WebhookDelivery.objects.bulk_create([d for d in deliveries if d.endpoint_id in alive])
    deliveries_enqueue([(d.pk, 0) for d in created])
    return created


def _lock_endpoints(ids: set[int]) -> set[int]:
    # PostgreSQL checks foreign keys at commit: an endpoint deleted since the chunk loaded it would fail the
    # commit, and the outcome with it. FOR KEY SHARE until commit makes a delete wait for us, and one that
    # came first leaves no row here. (SQLite writes one transaction at a time: nothing can come between.)
    if connection.vendor != "postgresql":
        return set(WebhookEndpoint.objects.filter(pk__in=ids).values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {WebhookEndpoint._meta.db_table} WHERE id = ANY(%s) FOR KEY SHARE", [list(ids)]
        )
        return {row[0] for row in cursor.fetchall()}
