"""What an operator sees of each send outcome: one log line, and what the metrics count of it.

Called in the dispatch loop for every send, so neither makes a query or a network call: the campaign's key
is logged only when the worker loaded the campaign anyway, and the counts are written with the outcomes.

And what the metrics show of the provider limits (dispatch/limits.py): the calls started and the time spent
waiting, counted in memory like core.metrics' other counters, and the gauges read from Redis at scrape time.
"""

import logging
from collections.abc import Iterable

import redis
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from core import metrics
from mailings.models import Channel
from sends.models import Send

from .limits import CALLS_METRIC, PAUSES_METRIC, WAIT_METRIC, channel_account, limiter

logger = logging.getLogger("herald.sends")

metrics.COUNTERS.update(
    {
        CALLS_METRIC: (
            "Provider calls started by each limited provider account: rate() is its rate",
            ("account",),
        ),
        WAIT_METRIC: (
            "Time sends spent waiting for their provider account's limits (in_flight, rate, paused by a 429)",
            ("account", "limit"),
        ),
        PAUSES_METRIC: ("429 answers that paused a provider account for every worker", ("account",)),
    }
)


def _latency(send: Send) -> float | None:
    return (timezone.now() - send.queued_at).total_seconds() if send.queued_at else None


def outcome_tallies(send: Send, status: str) -> list[tuple[str, str, int]]:
    """What the metrics count of an outcome, for core.metrics.tally in the transaction that records it."""
    return metrics.send_tallies(send.channel, status, _latency(send) if status == Send.Status.SENT else None)


def send_outcome(send: Send, status: str, fields: dict) -> None:
    campaign = send.campaign if Send.campaign.is_cached(send) else None
    latency = _latency(send)
    data = {
        "event": f"send.{status}",
        "org": send.org_id,
        "campaign": send.campaign_id,
        "campaign_key": campaign.key if campaign is not None else None,
        "trigger": send.trigger_id,
        "send": send.pk,
        "correlation_id": str(send.correlation_id),
        "channel": send.channel,
        "status": status,
        "attempts": send.attempts,
        "test": send.test,
    }
    if status == Send.Status.SENT:
        data["provider_message_id"] = fields.get("provider_message_id", "")
        data["latency_ms"] = round(latency * 1000) if latency is not None else None
    else:
        data["error"] = fields.get("last_error", "")
    level = logging.WARNING if status == Send.Status.FAILED else logging.INFO
    logger.log(level, "send %s %s", send.correlation_id, status, extra=data)


def limit_gauges() -> Iterable:
    """Each limited provider account's limits, calls in flight now and pause left, for /metrics."""
    accounts = sorted({a for a in map(channel_account, Channel.values) if a.limited}, key=lambda a: a.key)
    if not accounts:
        return
    limits = GaugeMetricFamily(
        "herald_provider_limit", "Each provider account's limits: max_in_flight, per_second",
        labels=["account", "limit"],
    )  # fmt: skip
    in_flight = GaugeMetricFamily(
        "herald_provider_in_flight",
        "Calls to each provider account in flight now, every worker's",
        labels=["account"],
    )
    paused = GaugeMetricFamily(
        "herald_provider_paused_seconds",
        "Seconds left of the pause a 429 put on each account",
        labels=["account"],
    )
    for account in accounts:
        limits.add_metric([account.key, "max_in_flight"], account.max_in_flight)
        limits.add_metric([account.key, "per_second"], account.per_second)
        try:
            calls, left = limiter().state(account)
        except redis.RedisError:
            logger.warning("provider limits not read: Redis is unavailable", exc_info=True)
            continue
        in_flight.add_metric([account.key], calls)
        paused.add_metric([account.key], left)
    yield from (limits, in_flight, paused)
