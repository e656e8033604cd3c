"""Counting for Prometheus (config.metrics serves it at /metrics), in two places by what is counted.

Send outcomes (herald_sends, the dispatch latency) are tallied in the database, in the transaction that
records the outcome: a worker SIGKILLed after that commit has counted it, one killed before has neither
recorded nor counted it, and the sweep that records a dead worker's journaled outcomes counts them once.
It is one more statement in a transaction that already commits (a chunk's, an event's).

The rest (triggers accepted, webhook attempts) each process adds up in memory and adds to Redis hashes in
one round trip after each task and each request; whichever web process is scraped reads the totals from
Redis. Why not prometheus_client's multiprocess mode: it shares counters through files in one folder, so
the web process could only report workers on its own machine (and container). Without Redis (the embedded
default) these are the scraped process's own. The queue gauges are asked of PostgreSQL and the broker at
scrape time, from small partial indexes.
"""

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterable

from django.conf import settings
from django.db import connection
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

logger = logging.getLogger(__name__)

# name -> (help, label names). Counters only ever grow: Prometheus' rate() turns them into throughput.
COUNTERS = {
    "herald_sends": (
        "Send outcomes recorded: dispatch outcomes (sent, failed, scheduled for a retry, suppressed, "
        "expired) and provider events that moved a send (delivered, bounced, …)",
        ("channel", "status"),
    ),
    "herald_triggers_accepted": ("Triggers accepted, by where they came from", ("source",)),
    "herald_webhook_attempts": (
        "Outbound webhook posts by outcome: delivered, retrying (a failure to be retried), gave_up",
        ("outcome",),
    ),
}
LATENCY = "herald_dispatch_latency_seconds"
LATENCY_HELP = "From queued to accepted by the provider, per sent message"
BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
# Tallied in the database (tally), not in memory: what dispatch and provider events record.
TALLIED = ("herald_sends", LATENCY)
SHARDS = 16
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


def send_tallies(
    channel: str, status: str, latency_seconds: float | None = None, *, sends: int = 1
) -> list[tuple[str, str, int]]:
    """What an outcome (of one send, or of `sends` alike) adds to the database's counters (tally)."""
    rows = [("herald_sends", f"{channel}{SEP}{status}", sends)]
    if latency_seconds is not None:
        bucket = next((str(b) for b in BUCKETS if latency_seconds <= b), "+Inf")
        # Milliseconds: the sum needs no finer grain, and the column is an integer.
        rows += [
            (LATENCY, f"{channel}{SEP}{bucket}", 1),
            (LATENCY, f"{channel}{SEP}sum_ms", round(latency_seconds * 1000)),
        ]
    return rows


def tally(rows: Iterable[tuple[str, str, int]]) -> None:
    """Add to the database's counters in one statement, in the caller's transaction."""
    summed: Counter = Counter()
    for name, labels, amount in rows:
        summed[(name, labels)] += amount
    if not summed:
        return
    from .models import Tally

    table = Tally._meta.db_table
    # A row of its own per process and thread, mostly: concurrent commits seldom wait on each other's rows,
    # and rows are always locked in the same order, so they cannot deadlock.
    shard = hash((os.getpid(), threading.get_ident())) % SHARDS
    values = ", ".join(["(%s, %s, %s, %s)"] * len(summed))
    params = [p for (name, labels), amount in sorted(summed.items()) for p in (name, labels, shard, amount)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (name, labels, shard, value) VALUES {values} "
            f"ON CONFLICT (name, labels, shard) DO UPDATE SET value = {table}.value + excluded.value",
            params,
        )


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
    if name in TALLIED:
        from django.db.models import Sum

        from .models import Tally

        rows = Tally.objects.filter(name=name).values_list("labels").annotate(total=Sum("value"))
        return dict(rows.order_by())
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
        client.delete(*(KEY + name for name in COUNTERS if name not in TALLIED))


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
