"""What an operator sees of each send outcome: one log line and the metrics, from what is in memory.

Called in the dispatch loop for every send, so it makes no query and no network call: the campaign's key
is logged only when the worker loaded the campaign anyway, and metrics are flushed after the task.
"""

import logging

from django.utils import timezone

from core import metrics
from sends.models import Send

logger = logging.getLogger("herald.sends")


def send_outcome(send: Send, status: str, fields: dict) -> None:
    campaign = send.campaign if Send.campaign.is_cached(send) else None
    latency = (timezone.now() - send.queued_at).total_seconds() if send.queued_at else None
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
    metrics.count("herald_sends", send.channel, status)
    if status == Send.Status.SENT and latency is not None:
        metrics.observe_latency(send.channel, latency)
