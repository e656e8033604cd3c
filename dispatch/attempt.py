"""One attempt at one send: render it, hand it to its channel, and say what became of it."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from campaigns.windows import hold_reason, next_opening
from core.backoff import backoff
from mailings.rendering import Rendered, RenderError, render_mailing, template_data
from sends.models import Send
from sends.unsubscribe import unsubscribe_url

from .channels import Attachment, PermanentFailure, TransientFailure, deliver, thread_connections
from .record import Outcome
from .routes import Exhausted, Refused, Route, deliver_through

Status = Send.Status


@dataclass
class Prepared:
    """A send rendered and ready for its provider."""

    send: Send
    rendered: Rendered
    attachments: list[Attachment]
    content: dict


def send_prepare(
    send: Send, attachments: list[Attachment], suppressed_because: str | None
) -> Prepared | Outcome:
    """Render one claimed send: ready for its provider, or what became of it without one (unrecorded)."""
    now = timezone.now()
    if send.expires_at and send.expires_at <= now:
        return Outcome(send, Status.EXPIRED, {"last_error": "Not dispatched before it expired."})
    if suppressed_because:
        error = f"{send.to_address} is suppressed for this org ({suppressed_because}); not dispatched."
        return Outcome(send, Status.SUPPRESSED, {"last_error": error})
    if send.mailing is None:
        return Outcome(send, Status.FAILED, {"last_error": "The mailing was deleted."})
    held = _window_hold(send, now)
    if held is not None:
        return held
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
    return Prepared(send, rendered, attachments, content)


def _window_hold(send: Send, now) -> Outcome | None:
    """A send that came due outside its campaign's window (a retry, a window changed since it was
    accepted) waits for the next opening in the recipient's zone, unrendered."""
    windows = send.campaign.windows if send.campaign is not None and send.timezone else None
    opening = next_opening(windows, send.timezone, now) if windows else None
    if opening is None:
        return None
    reason = hold_reason(windows, send.timezone)
    return Outcome(send, Status.SCHEDULED, {"scheduled_at": opening, "held": reason})


def send_deliver(prepared: Prepared, routes: list[Route] | None = None) -> Outcome:
    """Hand a prepared send to its provider, on this thread's connections: what became of it. `routes`
    are the org's own providers, tried in order (dispatch/routes.py); none: the server's backend.

    It touches no database, so it runs on any thread (dispatch/window.py).
    """
    send, content = prepared.send, prepared.content

    def attempt(connections) -> str:
        return deliver(send, prepared.rendered, prepared.attachments, connections)

    via: dict[str, str] = {}
    try:
        if routes:
            delivered = deliver_through(routes, attempt)
            message_id = delivered.message_id
            via = {"provider": delivered.provider, "failover": "\n".join(delivered.hops)}
        else:
            message_id = attempt(thread_connections())
    except PermanentFailure as exc:
        if isinstance(exc, Refused):
            via = {"provider": exc.provider, "failover": "\n".join(exc.hops)}
        return Outcome(send, Status.FAILED, {"last_error": str(exc), **via, **content})
    except TransientFailure as exc:
        if isinstance(exc, Exhausted):
            via = {"failover": "\n".join(exc.hops)}
        if send.attempts >= settings.HERALD_MAX_ATTEMPTS:
            error = f"Gave up after {send.attempts} attempts: {exc}"
            return Outcome(send, Status.FAILED, {"last_error": error, **via, **content})
        retry_at = timezone.now() + timedelta(seconds=send_retry_delay(send.attempts, exc.retry_after))
        fields = {"scheduled_at": retry_at, "last_error": str(exc), **via, **content}
        return Outcome(send, Status.SCHEDULED, fields, retry_after=exc.retry_after)
    return Outcome(
        send, Status.SENT,
        {"sent_at": timezone.now(), "provider_message_id": message_id, "last_error": "", **via, **content},
    )  # fmt: skip


def send_retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """Seconds until a send that failed transiently is tried again: the provider's Retry-After if longer."""
    delay = backoff(attempts, base=settings.HERALD_RETRY_BASE_SECONDS, cap=settings.HERALD_RETRY_MAX_SECONDS)
    return max(delay, retry_after or 0)
