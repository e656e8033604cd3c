"""GET /metrics: what every process counted (core.metrics), and gauges of the queues read at scrape time.

The queue gauges are asked of PostgreSQL and the broker at scrape time, from small partial indexes.
"""

import hmac
import logging
from collections.abc import Iterable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from core import metrics
from dispatch.observe import limit_gauges
from dispatch.progress import dispatch_state
from outbound_webhooks.models import WebhookDelivery
from sends.models import Send

logger = logging.getLogger(__name__)


class HeraldCollector:
    def collect(self) -> Iterable:
        yield from metrics.counter_families()
        yield from _queue_gauges()
        yield from limit_gauges()


def _queue_gauges() -> Iterable:
    now = timezone.now()
    Status = Send.Status
    depth = GaugeMetricFamily(
        "herald_sends_waiting",
        "Sends not yet dispatched: queued (for a worker), sending (claimed), due (scheduled, time passed)",
        labels=["state"],
    )
    depth.add_metric(["queued"], Send.objects.filter(status=Status.QUEUED).count())
    depth.add_metric(["sending"], Send.objects.filter(status=Status.SENDING).count())
    depth.add_metric(["due"], Send.objects.filter(status=Status.SCHEDULED, scheduled_at__lte=now).count())
    yield depth
    oldest = Send.objects.filter(status=Status.QUEUED).order_by("queued_at").values_list("queued_at").first()
    age = GaugeMetricFamily(
        "herald_oldest_queued_send_age_seconds",
        "How long the oldest queued send has waited; growing while workers are stuck or too few",
    )
    age.add_metric([], (now - oldest[0]).total_seconds() if oldest and oldest[0] else 0)
    yield age
    state = dispatch_state(now=now)
    stalled = GaugeMetricFamily(
        "herald_dispatch_stalled",
        "1 while sends have been due for longer than the lease and no worker finished a chunk in that time",
    )
    stalled.add_metric([], int(state.stalled))
    yield stalled
    if state.last_progress_seconds is not None:
        progress = GaugeMetricFamily(
            "herald_dispatch_last_progress_age_seconds", "Since a worker last finished a chunk"
        )
        progress.add_metric([], state.last_progress_seconds)
        yield progress
    pending = GaugeMetricFamily("herald_webhook_deliveries_pending", "Webhook notifications to deliver")
    pending.add_metric([], WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING).count())
    yield pending
    broker = _broker_depths()
    if broker:
        family = GaugeMetricFamily(
            "herald_broker_queue_length", "Tasks waiting in each Celery queue (Redis)", labels=["queue"]
        )
        for queue, length in broker.items():
            family.add_metric([queue], length)
        yield family


def _broker_depths() -> dict[str, int]:
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        return {}
    import redis

    queues = {settings.CELERY_TASK_DEFAULT_QUEUE, settings.HERALD_INTERACTIVE_QUEUE}
    for route in (getattr(settings, "CELERY_TASK_ROUTES", None) or {}).values():
        if isinstance(route, dict) and route.get("queue"):
            queues.add(route["queue"])
    try:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=2)
        try:
            # Kombu keeps a Redis queue as a list named after it.
            return {queue: client.llen(queue) for queue in sorted(queues)}
        finally:
            client.close()
    except Exception:
        logger.warning("broker queue lengths not read", exc_info=True)
        return {}


def metrics_view(request: HttpRequest) -> HttpResponse:
    """GET /metrics: Prometheus' text format, for a bearer token equal to HERALD_METRICS_TOKEN."""
    token = settings.HERALD_METRICS_TOKEN
    if not token:
        return HttpResponse(
            "Metrics are off: set HERALD_METRICS_TOKEN.\n", status=404, content_type="text/plain"
        )
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not _same(given.strip(), token):
        response = HttpResponse("A bearer token is required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="herald-metrics"'
        return response
    metrics.flush()  # this process's own counts, so a scrape right after a trigger sees it
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HeraldCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())
