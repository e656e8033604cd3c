"""Counting for Prometheus: counters every process adds to in Redis (config.metrics serves them at /metrics).

Why not prometheus_client's multiprocess mode: it shares counters through files in one folder, so the web
process could only report workers on its own machine (and container). Here each process adds up what it
counts in memory (no I/O in the dispatch loop) and adds that to Redis hashes in one round trip after each
task and each trigger; whichever web process is scraped reads the totals from Redis. The queue gauges are
asked of PostgreSQL and the broker at scrape time, from small partial indexes. Without Redis (the embedded
default) the counters are the scraped process's own.
"""

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable

from django.conf import settings
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

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


def counter_families() -> Iterable:
    """What every process counted, summed: the counters and the latency histogram, for /metrics."""
    for name, (help_text, label_names) in COUNTERS.items():
        family = CounterMetricFamily(name, help_text, labels=label_names)
        for field, value in sorted(_totals(name).items()):
            family.add_metric(field.split(SEP), value)
        yield family
    yield from _latency()


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
