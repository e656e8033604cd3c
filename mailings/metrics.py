"""Prometheus metrics at /metrics: counters every process adds to in Redis, and gauges read at scrape time.

Why not prometheus_client's multiprocess mode: it shares counters through files in one folder, so the web
process could only report workers on its own machine (and container). Here each process adds up what it
counts in memory (no I/O in the dispatch loop) and adds that to Redis hashes in one round trip after each
task and each trigger; whichever web process is scraped reads the totals from Redis. The queue gauges are
asked of PostgreSQL and the broker at scrape time, from small partial indexes. Without Redis (the embedded
default) the counters are the scraped process's own.
"""

import hmac
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

logger = logging.getLogger(__name__)

# name -> (help, label names). Counters only ever grow: Prometheus' rate() turns them into throughput.
COUNTERS = {
    "herald_triggers_accepted": ("Triggers accepted, by where they came from", ("source",)),
    "herald_sends": (
        "Send outcomes recorded: dispatch outcomes (sent, failed, scheduled for a retry, suppressed, "
        "expired) and provider events that moved a send (delivered, bounced, …)",
        ("channel", "status"),
    ),
    "herald_webhook_attempts": (
        "Outbound webhook posts by outcome: delivered, retrying (a failure to be retried), gave_up",
        ("outcome",),
    ),
}
LATENCY = "herald_dispatch_latency_seconds"
LATENCY_HELP = "From queued to accepted by the provider, per sent message"
BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
KEY = "herald:metrics:"
SEP = "\x1f"

_lock = threading.Lock()
_pending: Counter = Counter()  # (hash, field) -> amount not yet added to Redis
_local: Counter = Counter()  # everything this process counted: what it reports when there is no Redis
_paused_until = 0.0  # after a failed flush: no worker should wait on a Redis that is down after every task
PAUSE_SECONDS = 30


def count(name: str, *labels: str, amount: int = 1) -> None:
    """Count in memory only; flush() adds it to the shared totals."""
    _add(KEY + name, SEP.join(labels), amount)


def observe_latency(channel: str, seconds: float) -> None:
    bucket = next((str(b) for b in BUCKETS if seconds <= b), "+Inf")
    _add(KEY + LATENCY, f"{channel}{SEP}{bucket}", 1)
    # Milliseconds: HINCRBY adds integers, and the sum needs no finer grain.
    _add(KEY + LATENCY, f"{channel}{SEP}sum_ms", round(seconds * 1000))


def _add(key: str, field: str, amount: int) -> None:
    with _lock:
        _pending[(key, field)] += amount
        _local[(key, field)] += amount


def flush() -> None:
    """Add what this process counted to Redis in one round trip. Never raises: metrics must not fail work."""
    global _paused_until
    client = _redis()
    if client is None or not _pending or time.monotonic() < _paused_until:
        return
    with _lock:
        batch = dict(_pending)
        _pending.clear()
    try:
        pipe = client.pipeline(transaction=False)
        for (key, field), amount in batch.items():
            pipe.hincrby(key, field, amount)
        pipe.execute()
    except Exception:
        with _lock:  # counted again next time: the pending counts are sums, so they stay small
            _pending.update(batch)
        _paused_until = time.monotonic() + PAUSE_SECONDS
        logger.warning("metrics not flushed: Redis is unavailable", exc_info=True)


_client = None


def _redis():
    global _client
    if not settings.REDIS_URL:
        return None
    if _client is None:
        import redis

        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    return _client


def _totals(name: str) -> dict[str, int]:
    key = KEY + name
    client = _redis()
    if client is None:
        with _lock:
            return {field: n for (k, field), n in _local.items() if k == key}
    return {field.decode(): int(n) for field, n in client.hgetall(key).items()}


def reset() -> None:
    """Forget every count (tests)."""
    global _paused_until
    _paused_until = 0.0
    with _lock:
        _pending.clear()
        _local.clear()
    client = _redis()
    if client is not None:
        client.delete(*(KEY + name for name in [*COUNTERS, LATENCY]))


class HeraldCollector:
    def collect(self) -> Iterable:
        for name, (help_text, label_names) in COUNTERS.items():
            family = CounterMetricFamily(name, help_text, labels=label_names)
            for field, value in sorted(_totals(name).items()):
                family.add_metric(field.split(SEP), value)
            yield family
        yield from _latency()
        yield from _queue_gauges()


def _latency() -> Iterable:
    per_channel: dict[str, dict[str, int]] = {}
    for field, value in _totals(LATENCY).items():
        channel, _, part = field.partition(SEP)
        per_channel.setdefault(channel, {})[part] = value
    family = HistogramMetricFamily(LATENCY, LATENCY_HELP, labels=["channel"])
    for channel, parts in sorted(per_channel.items()):
        cumulative, buckets = 0, []
        for bound in [*map(str, BUCKETS), "+Inf"]:
            cumulative += parts.get(bound, 0)
            buckets.append((bound, cumulative))
        family.add_metric([channel], buckets, parts.get("sum_ms", 0) / 1000)
    yield family


def _queue_gauges() -> Iterable:
    from .models import Send, WebhookDelivery

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
    flush()  # this process's own counts, so a scrape right after a trigger sees it
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HeraldCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())
