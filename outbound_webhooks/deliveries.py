"""Outcomes out: each org's webhook endpoints are told what became of its sends, signed, until they say 2xx.

The task that posts it is published after commit and is
only a hint: the sweep hands any pending delivery that is due (a retry, or a lost task) to a worker again.
Each task carries the attempt count it expects; claiming bumps it, so duplicates of a task find nothing.
"""

import json
import logging
import time
from collections.abc import Iterable
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core import metrics
from core.backoff import backoff

from . import http
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .queue import RETRY_WINDOW, deliveries_enqueue, lease
from .signing import SIGNATURE_HEADER, signature

logger = logging.getLogger(__name__)
Pending = WebhookDelivery.Status.PENDING

RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600


def webhook_delivery_attempt(*, delivery_id: int, attempts: int, now: datetime | None = None) -> str | None:
    """Post a pending delivery once, log the attempt, and record what came of it; None if not ours to try.

    `attempts` is how many attempts the caller saw: only the task holding the current count claims it.
    """
    now = now or timezone.now()
    claimed = WebhookDelivery.objects.filter(pk=delivery_id, status=Pending, attempts=attempts).update(
        attempts=attempts + 1, next_attempt_at=now + lease()
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
        fields["next_attempt_at"] = now + timedelta(seconds=delivery_retry_delay(attempts + 1))
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


def delivery_retry_delay(attempts: int) -> float:
    """Seconds until a failed delivery is posted again."""
    return backoff(attempts, base=RETRY_BASE_SECONDS, cap=RETRY_MAX_SECONDS)


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
        answer = http.post(endpoint.url, body, headers)
        status_code, url = answer.status_code, answer.url
        if not 200 <= status_code < 300:
            excerpt = answer.excerpt.strip()
            error = f"HTTP {status_code}: {excerpt}" if excerpt else f"HTTP {status_code}"
    except http.Refused as exc:
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
        next_attempt_at=now + lease()
    )
    deliveries_enqueue(due, on_commit=False)
    if due:
        logger.info("webhook sweep handed %s due deliveries to workers", len(due))
    return len(due)


def webhook_delivery_replay(*, deliveries: Iterable[WebhookDelivery], now: datetime | None = None) -> int:
    """Post these again now, whatever became of them, with a fresh retry window: staff fixed the receiver."""
    now = now or timezone.now()
    ids = [d.pk for d in deliveries]
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk__in=ids).update(
            status=Pending, next_attempt_at=now + lease(), retry_until=now + RETRY_WINDOW, delivered_at=None
        )
        due = list(WebhookDelivery.objects.filter(pk__in=ids).values_list("pk", "attempts"))
        deliveries_enqueue(due)
    return len(due)
