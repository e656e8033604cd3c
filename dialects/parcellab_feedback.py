"""parcelLab's feedback webhook: what an outbound webhook endpoint of format `parcellab` is sent.

Registered as a payload format in DialectsConfig.ready, so outbound_webhooks knows no vendor.
"""

from outbound_webhooks.payloads import Notification, PayloadFormat
from sends.models import DeliveryEvent, Send

Status = Send.Status
SOURCE = "parcellab"  # the format is named as the dialect is

PARCELLAB_SUCCESS = (Status.SENT, Status.DELIVERED)
# The failure parcelLab reports is a bounce type as Amazon SES writes it: "<type> / <subtype>".
PARCELLAB_FAILURES = {
    Status.BOUNCED: "Permanent / General",
    Status.REJECTED: "Permanent / General",
    Status.FAILED: "Permanent / General",
    Status.SUPPRESSED: "Permanent / Suppressed",
    Status.EXPIRED: "Undetermined / General",
}


def feedback_payload(n: Notification) -> dict:
    # The caller knows a send by its own id for the trigger: the correlationId it gave parcelLab's dialect
    # (or was given back), and as much the reference or Idempotency-Key it gave any other; a send whose
    # trigger has none, by the send's own correlation id.
    trigger = n.trigger
    correlation_id = (
        trigger.reference if trigger is not None and trigger.reference else str(n.send.correlation_id)
    )
    if n.status in PARCELLAB_SUCCESS:
        return {"correlationId": correlation_id, "success": True}
    return {"correlationId": correlation_id, "success": False, "failure": _bounce_type(n.status, n.event)}


def _bounce_type(status: str, event: DeliveryEvent | None) -> str:
    if event is not None and status == Status.BOUNCED:
        bounce = (event.payload or {}).get("bounce") if isinstance(event.payload, dict) else None
        if isinstance(bounce, dict) and bounce.get("bounceType"):  # Amazon SES says it in these very words
            return f"{bounce['bounceType']} / {bounce.get('bounceSubType') or 'General'}"
        if event.is_soft_bounce:
            return "Transient / General"
    return PARCELLAB_FAILURES.get(status, "Permanent / General")


# parcelLab's feedback knows success and failure. A complaint follows delivery and is neither (nor is an
# unsubscribe), so a parcelLab endpoint is not told of one; every other final outcome it is.
PARCELLAB = PayloadFormat(
    SOURCE,
    "parcelLab feedback",
    tuple(s for s in Send.FINAL_STATUSES if s != Status.COMPLAINED),
    feedback_payload,
)
