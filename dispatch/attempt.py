"""One attempt at one send: render it, hand it to its channel, and say what became of it."""

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from core.backoff import backoff
from mailings.rendering import RenderError, render_mailing, template_data
from sends.models import Send
from sends.unsubscribe import unsubscribe_url

from .channels import Attachment, Connections, PermanentFailure, TransientFailure, deliver
from .record import Outcome

Status = Send.Status


def send_attempt(
    send: Send,
    attachments: list[Attachment],
    connections: Connections,
    suppressed_because: str | None,
    *,
    before_delivery: Callable[[], None],
) -> Outcome:
    """Render one claimed send and hand it to its provider: what became of it, not yet recorded.

    `before_delivery` runs just before the provider is called: the outcomes so far must be safe by then.
    """
    now = timezone.now()
    if send.expires_at and send.expires_at <= now:
        return Outcome(send, Status.EXPIRED, {"last_error": "Not dispatched before it expired."})
    if suppressed_because:
        error = f"{send.to_address} is suppressed for this org ({suppressed_because}); not dispatched."
        return Outcome(send, Status.SUPPRESSED, {"last_error": error})
    if send.mailing is None:
        return Outcome(send, Status.FAILED, {"last_error": "The mailing was deleted."})
    recipient = send.recipient.as_template_data() if send.recipient else {send.channel: send.to_address}
    try:
        rendered = render_mailing(
            send.mailing,
            locale=send.locale,
            data=template_data(
                recipient=recipient, context=send.context, unsubscribe_url=unsubscribe_url(send)
            ),
        )
    except RenderError as exc:
        return Outcome(send, Status.FAILED, {"last_error": f"Template error in {exc}"})
    content = {
        "subject": rendered.subject, "text": rendered.text, "html": rendered.html,
        "mailing_version": send.mailing.version or None,
    }  # fmt: skip
    before_delivery()
    try:
        message_id = deliver(send, rendered, attachments, connections)
    except PermanentFailure as exc:
        return Outcome(send, Status.FAILED, {"last_error": str(exc), **content})
    except TransientFailure as exc:
        if send.attempts >= settings.HERALD_MAX_ATTEMPTS:
            error = f"Gave up after {send.attempts} attempts: {exc}"
            return Outcome(send, Status.FAILED, {"last_error": error, **content})
        retry_at = now + timedelta(seconds=send_retry_delay(send.attempts, exc.retry_after))
        return Outcome(send, Status.SCHEDULED, {"scheduled_at": retry_at, "last_error": str(exc), **content})
    return Outcome(
        send, Status.SENT,
        {"sent_at": timezone.now(), "provider_message_id": message_id, "last_error": "", **content},
    )  # fmt: skip


def send_retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """Seconds until a send that failed transiently is tried again: the provider's Retry-After if longer."""
    delay = backoff(attempts, base=settings.HERALD_RETRY_BASE_SECONDS, cap=settings.HERALD_RETRY_MAX_SECONDS)
    return max(delay, retry_after or 0)
