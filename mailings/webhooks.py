"""Outcomes out: each org's webhook endpoints are told what became of its sends, signed, until they say 2xx.

A delivery row is written in the same transaction as the outcome it tells of, so a worker that dies after
recording an outcome cannot lose its notification. The task that posts it is published after commit and is
only a hint: the sweep hands any pending delivery that is due (a retry, or a lost task) to a worker again.
Each task carries the attempt count it expects; claiming bumps it, so duplicates of a task find nothing.
"""

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from orgs.errors import Problem

from . import metrics, webhook_http
from .models import DeliveryEvent, Send, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .webhook_payloads import FORMAT_STATUSES, TriggerRef, payload_for

logger = logging.getLogger(__name__)
Pending = WebhookDelivery.Status.PENDING

RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600
# Retried at least this long after the outcome: a receiver down for a day still hears of it.
RETRY_WINDOW = timedelta(hours=24)
SIGNATURE_HEADER = "Herald-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The Herald-Signature header: `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the secret>`.

    The timestamp is signed too, so a receiver that refuses old timestamps cannot be fed a replayed request.
    """
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def webhook_endpoint_problems(*, url: str, events: list[str], format: str) -> list[Problem]:
    """What the API and the admin both refuse in an endpoint."""
    problems = []
    problem = webhook_http.url_problem(url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS)
    if problem:
        problems.append(Problem("url", problem))
    allowed = FORMAT_STATUSES.get(format, ())
    for index, event in enumerate(events):
        if event not in allowed:
            problems.append(
                Problem(f"events[{index}]", f"'{event}' is not an outcome {format} endpoints are told of.")
            )
    return problems


def endpoint_wants(endpoint: WebhookEndpoint, status: str) -> bool:
    return status in (endpoint.events or FORMAT_STATUSES[endpoint.format])


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
        Trigger = Send._meta.get_field("trigger").related_model
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
                next_attempt_at=now + _lease(),  # the task published on commit goes first, the sweep after
            )  # fmt: skip
            delivery.payload = payload_for(
                endpoint, public_id=str(delivery.public_id), send=send, status=status, occurred_at=now,
                error=error, trigger=subscriptions.triggers.get(send.trigger_id), event=event,
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
    _enqueue([(d.pk, 0) for d in created])
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


def webhook_delivery_attempt(*, delivery_id: int, attempts: int, now: datetime | None = None) -> str | None:
    """Post a pending delivery once, log the attempt, and record what came of it; None if not ours to try.

    `attempts` is how many attempts the caller saw: only the task holding the current count claims it.
    """
    now = now or timezone.now()
    claimed = WebhookDelivery.objects.filter(pk=delivery_id, status=Pending, attempts=attempts).update(
        attempts=attempts + 1, next_attempt_at=now + _lease()
    )
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    ours = WebhookDelivery.objects.filter(pk=delivery_id, status=Pending, attempts=attempts + 1)
    endpoint = delivery.endpoint
    if not endpoint.active:
        ours.update(
            status=WebhookDelivery.Status.FAILED, next_attempt_at=None, last_error="Endpoint inactive."
        )
        return WebhookDelivery.Status.FAILED

    status_code, url, error, duration_ms = _post(delivery, endpoint)
    fields: dict = {"last_status_code": status_code, "last_error": error}
    if status_code is not None and 200 <= status_code < 300:
        fields.update(status=WebhookDelivery.Status.DELIVERED, delivered_at=now, next_attempt_at=None)
    elif now >= delivery.retry_until:
        fields.update(status=WebhookDelivery.Status.FAILED, next_attempt_at=None)
        fields["last_error"] = f"Gave up after {attempts + 1} attempts: {error}"
    else:
        fields["next_attempt_at"] = now + timedelta(seconds=retry_delay(attempts + 1))
    outcome = {WebhookDelivery.Status.DELIVERED: "delivered", WebhookDelivery.Status.FAILED: "gave_up"}
    metrics.count("herald_webhook_attempts", outcome.get(fields.get("status"), "retrying"))
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery, at=now, url=url[:2000], status_code=status_code, error=error,
            duration_ms=duration_ms,
        )  # fmt: skip
        # A replay while this attempt was in flight bumped the count: its outcome, not ours, stands.
        ours.update(**fields)
    return fields.get("status", Pending)


def retry_delay(attempts: int) -> int:
    return min(RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), RETRY_MAX_SECONDS)


def _post(delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> tuple[int | None, str, str, int]:
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Herald-Webhooks/1",
        SIGNATURE_HEADER: signature(endpoint.secret, int(time.time()), body),
        "Herald-Delivery": str(delivery.public_id),
        "Herald-Event": delivery.event,
    }
    started = time.monotonic()
    status_code, url, error = None, endpoint.url, ""
    try:
        answer = webhook_http.post(endpoint.url, body, headers)
        status_code, url = answer.status_code, answer.url
        if not 200 <= status_code < 300:
            excerpt = answer.excerpt.strip()
            error = f"HTTP {status_code}: {excerpt}" if excerpt else f"HTTP {status_code}"
    except webhook_http.Refused as exc:
        error = f"Refused: {exc}"
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"
    except Exception as exc:
        # Whatever else went wrong is this attempt's outcome: logged and retried, and the worker goes on.
        logger.warning("webhook delivery %s: unexpected error", delivery.pk, exc_info=True)
        error = f"{type(exc).__name__}: {exc}"
    return status_code, url, error, int((time.monotonic() - started) * 1000)


def webhook_deliveries_sweep(*, now: datetime | None = None) -> int:
    """Hand each pending delivery that is due to a worker: retries whose backoff is over, and lost tasks."""
    now = now or timezone.now()
    due = list(
        WebhookDelivery.objects.filter(status=Pending, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", "attempts")[: settings.HERALD_SWEEP_BATCH]
    )
    # Not due again until the lease is over: a task waiting in a busy queue is not published twice a sweep.
    WebhookDelivery.objects.filter(pk__in=[pk for pk, _ in due], status=Pending).update(
        next_attempt_at=now + _lease()
    )
    _enqueue(due, on_commit=False)
    if due:
        logger.info("webhook sweep handed %s due deliveries to workers", len(due))
    return len(due)


def webhook_delivery_replay(*, deliveries: Iterable[WebhookDelivery], now: datetime | None = None) -> int:
    """Post these again now, whatever became of them, with a fresh retry window: staff fixed the receiver."""
    now = now or timezone.now()
    ids = [d.pk for d in deliveries]
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk__in=ids).update(
            status=Pending, next_attempt_at=now + _lease(), retry_until=now + RETRY_WINDOW, delivered_at=None
        )
        due = list(WebhookDelivery.objects.filter(pk__in=ids).values_list("pk", "attempts"))
        _enqueue(due)
    return len(due)


def _lease() -> timedelta:
    return timedelta(seconds=settings.HERALD_LEASE_SECONDS)


def _enqueue(items: list[tuple[int, int]], *, on_commit: bool = True) -> None:
    if not items:
        return

    def publish() -> None:
        from .tasks import deliver_webhook

        for delivery_id, attempts in items:
            deliver_webhook.delay(delivery_id, attempts)

    if on_commit:
        # robust: the outcome is committed and the sweep will find the delivery; a broker error must not
        # turn recording a send's outcome into a failure.
        transaction.on_commit(publish, robust=True)
    else:
        publish()
