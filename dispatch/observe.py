"""What an operator sees of each send outcome: one log line, and what the metrics count of it.

Called in the dispatch loop for every send, so neither makes a query or a network call: the campaign's key
is logged only when the worker loaded the campaign anyway, and the counts are written with the outcomes.
"""

import logging

from django.utils import timezone

from core import metrics
from sends.models import Send

logger = logging.getLogger("herald.sends")


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
