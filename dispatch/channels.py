"""Hand one rendered send to its channel's backend, and say whether a failure is worth retrying."""

import contextlib
import email.utils
import functools
import os
import smtplib
import socket
import threading
import time
from dataclasses import dataclass

import requests
from anymail.backends.base import BasePayload
from anymail.exceptions import AnymailAPIError, AnymailInvalidAddress, AnymailRecipientsRefused
from anymail.utils import EmailAddress, parse_address_list
from django.conf import settings
from django.core.mail import BadHeaderError, EmailMultiAlternatives, get_connection
from django.core.signals import setting_changed
from django.dispatch import receiver

from dispatch.sms import SMSMessage, SMSSendError, get_sms_connection
from mailings.models import Channel
from mailings.rendering import Rendered
from sends.models import Send
from sends.unsubscribe import unsubscribe_headers


class PermanentFailure(Exception):
    """Retrying cannot help: a refused recipient, an invalid address, a 4xx, a broken template."""


class TransientFailure(Exception):
    """Worth another attempt later: network errors, timeouts, 5xx, 429."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class Attachment:
    filename: str
    content_type: str
    content: bytes


class Connections:
    """One email and one SMS connection, opened on first use and kept for the sends that follow."""

    def __init__(self):
        self._email = None
        self._sms = None
        self.used_at = time.monotonic()
        self.pid, self.generation = os.getpid(), _generation  # whose sockets, opened under which settings

    @property
    def email(self):
        if self._email is None:
            self._email = get_connection(fail_silently=False)
            self._email.open()
            # Anymail's HTTP backends keep a requests session and the URL they post to.
            session = getattr(self._email, "session", None)
            if isinstance(session, requests.Session):
                session_read_environment_once(session, self._email.api_url)
        self.used_at = time.monotonic()
        return self._email

    @property
    def sms(self):
        if self._sms is None:
            self._sms = get_sms_connection()
            self._sms.open()
        self.used_at = time.monotonic()
        return self._sms

    def close(self) -> None:
        for connection in (self._email, self._sms):
            if connection is not None:
                # Closing must not hide the outcomes already recorded.
                with contextlib.suppress(Exception):
                    connection.close()
        self._email = self._sms = None


def session_read_environment_once(session: requests.Session, url: str) -> None:
    """Read the proxies, CA bundle and .netrc that requests would look up for `url` on every call, now.

    With trust_env, requests reads all of os.environ for *_PROXY and NO_PROXY, and stats ~/.netrc, on
    each request: a tenth to a sixth of a send's client CPU (see docs/performance.md). A session posts
    to one provider's URL, so what the environment says for it is read once, when the connection opens,
    and an operator's HTTPS_PROXY (or NO_PROXY, REQUESTS_CA_BUNDLE) still applies; a change needs a new
    connection, as other settings do.
    """
    proxies = requests.utils.get_environ_proxies(url)  # {} when NO_PROXY covers url's host
    proxies.pop("no", None)
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    netrc = requests.utils.get_netrc_auth(url)
    session.trust_env = False
    session.proxies.update(proxies)
    if bundle and session.verify is True:
        session.verify = bundle
    if netrc and session.auth is None:
        session.auth = netrc


@functools.lru_cache(maxsize=1024)
def _addresses_parsed(addresses: tuple[str, ...], field: str) -> tuple[EmailAddress, ...]:
    return tuple(parse_address_list(list(addresses), field=field))


def _parsed_once(field: str):
    def parse(value) -> list[EmailAddress]:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list | tuple) and all(type(address) is str for address in value):
            return list(_addresses_parsed(tuple(value), field))  # a new list: payloads extend theirs
        return parse_address_list(value, field=field)  # lazy strings, None: as Anymail does

    return parse


def _anymail_parses_mailing_addresses_once() -> None:
    """A mailing's From and Reply-To, parsed once and not again for each of its sends.

    Anymail parses every address of every message (parse_address_list, the issue's ~15 % of the CPU), in
    BasePayload's table of converters, and has no setting or hook for it. The table's From and Reply-To
    entries become the same parse, memoised: an EmailAddress cannot be changed, and a bad address still
    raises AnymailInvalidAddress naming its field, every time. To, unique to each send, is left alone.
    """
    BasePayload.base_message_attrs = tuple(
        (
            attr,
            combine,
            _parsed_once(attr)
            if convert is parse_address_list and attr in ("from_email", "reply_to")
            else convert,
        )
        for attr, combine, convert in BasePayload.base_message_attrs
    )


_anymail_parses_mailing_addresses_once()
_local = threading.local()
_generation = 0  # connections opened under other settings (a test's override) are not reused


@receiver(setting_changed)
def _settings_changed(**kwargs) -> None:
    global _generation
    _generation += 1


def thread_connections() -> Connections:
    """This thread's connections, kept alive from one chunk to the next.

    A provider's TLS handshake costs more than a send, so a connection outlives its chunk; one idle for
    longer than HERALD_PROVIDER_IDLE_SECONDS is closed first (servers drop idle ones, SMTP ones noisily).
    One set a thread: an HTTP session or SMTP connection is not shared between threads.
    """
    connections = getattr(_local, "connections", None)
    if connections is not None and (
        connections.pid != os.getpid()
        or connections.generation != _generation
        or time.monotonic() - connections.used_at > settings.HERALD_PROVIDER_IDLE_SECONDS
    ):
        if connections.pid == os.getpid():  # a forked child must not close its parent's sockets
            connections.close()
        connections = None
    if connections is None:
        connections = _local.connections = Connections()
    return connections


def message_id_for(send: Send) -> str:
    return f"<{send.correlation_id}@{settings.HERALD_MESSAGE_ID_DOMAIN}>"


def deliver(send: Send, rendered: Rendered, attachments: list[Attachment], connections: Connections) -> str:
    """Send it; return the provider's message id. Raises PermanentFailure or TransientFailure."""
    if send.test:
        # A test key's send: rendered and recorded like any other, handed to no provider (see docs/api.md).
        return f"test-{send.correlation_id}"
    try:
        if send.channel == Channel.SMS:
            return connections.sms.send(
                SMSMessage(to=send.to_address, body=rendered.text, reference=str(send.correlation_id))
            )
        message = build_email(send, rendered, attachments)
        connections.email.send_messages([message])
    except (PermanentFailure, TransientFailure):
        raise
    except Exception as exc:
        raise classify(exc) from exc
    status = getattr(message, "anymail_status", None)
    if status is not None and status.message_id is not None:
        return str(status.message_id)
    return message.extra_headers["Message-ID"]


_date: tuple[int, str] = (0, "")


def date_header() -> str:
    """Now as an RFC 5322 Date, formatted once a second rather than once a message."""
    global _date
    second = int(time.time())
    if _date[0] != second:
        _date = (second, email.utils.formatdate(second))  # one tuple: threads see either, never half
    return _date[1]


def build_email(send: Send, rendered: Rendered, attachments: list[Attachment]) -> EmailMultiAlternatives:
    mailing = send.mailing
    reply_to = [mailing.reply_to] if mailing.reply_to else []
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=send.from_email or mailing.from_email or settings.DEFAULT_FROM_EMAIL,
        to=[send.to_address],
        reply_to=reply_to,
        # The send's own id as Message-ID: providers that keep it let a re-dispatch be recognised.
        headers={
            "Message-ID": message_id_for(send),
            "Date": date_header(),
            **unsubscribe_headers(send),
        },
    )
    if rendered.html:
        message.attach_alternative(rendered.html, "text/html")
    for attachment in attachments:
        message.attach(attachment.filename, attachment.content, attachment.content_type)
    # Anymail passes these to the ESP, so its tracking webhooks can name the send.
    message.metadata = {"herald_send": str(send.correlation_id)}
    return message


def classify(exc: Exception) -> Exception:
    if isinstance(exc, AnymailRecipientsRefused | AnymailInvalidAddress):
        return PermanentFailure(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, AnymailAPIError | SMSSendError):
        status = getattr(exc, "status_code", None)
        if status is not None and (status == 429 or status >= 500):
            return TransientFailure(f"provider answered {status}: {exc}", retry_after=_retry_after(exc))
        if status is not None:
            return PermanentFailure(f"provider answered {status}: {exc}")
        return TransientFailure(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, BadHeaderError | ValueError):
        # The message itself cannot be built (a line break in a header, Django's "Invalid address"): it
        # fails the same way on every attempt.
        return PermanentFailure(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, smtplib.SMTPRecipientsRefused | smtplib.SMTPSenderRefused):
        return PermanentFailure(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, smtplib.SMTPResponseException):
        if 500 <= exc.smtp_code < 600:
            return PermanentFailure(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}")
        return TransientFailure(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}")
    if isinstance(exc, OSError | socket.timeout | smtplib.SMTPException):
        return TransientFailure(f"{type(exc).__name__}: {exc}")
    # Unknown errors are retried: giving up at once could drop a message over a passing fault.
    return TransientFailure(f"{type(exc).__name__}: {exc}")


def _retry_after(exc: AnymailAPIError) -> float | None:
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    value = headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
