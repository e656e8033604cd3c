"""Which provider accounts a send may go through, in order, and failing over between them.

An org with no providers of its own sends through the server's backend (EMAIL_BACKEND, SMS_BACKEND), as
before, and nothing here costs it a round trip. An org with providers sends through its enabled ones in
`position` order, never through the server's or another org's: it sends from its own domain on its own
accounts. A transient failure (a timeout, a refused connection, a 5xx, a 429) or an account-level
refusal (a bad or suspended account, an exhausted quota) moves the send on to the next provider; a
refusal of this recipient (an invalid address, a hard bounce) ends it there, as it would everywhere.
A provider that keeps failing is skipped by every worker until its circuit closes (dispatch/circuit.py).
"""

import math
import threading
from dataclasses import dataclass, field

from anymail.exceptions import AnymailAPIError
from django.conf import settings

from core import metrics
from providers.models import Provider
from sends.models import Send

from .accounts import email_connection, sms_connection
from .channels import PermanentFailure, TransientFailure
from .circuit import breaker
from .limits import Account, account_pause, slot_acquire, slot_release

# Postmark's account-level ErrorCodes: a bad server token, sending not allowed (suspended, or the
# account's limit reached), the account pending approval. Another account may well take the message.
POSTMARK_ACCOUNT_ERRORS = {10, 405, 406, 412, 413}
ACCOUNT_STATUSES = {401, 402, 403}  # not authorised, payment required, forbidden: the account, not you
PROVIDER_SENDS = "herald_provider_sends"
metrics.COUNTERS[PROVIDER_SENDS] = (
    "Sends through orgs' own providers, by provider (org id/name) and outcome: sent, refused (the "
    "recipient), failed_over (to the next), skipped (its circuit open)",
    ("provider", "outcome"),
)


@dataclass(frozen=True)
class Route:
    provider: Provider
    until: float = math.inf  # time.monotonic() past which no call may start (the chunk's deadline)

    @property
    def key(self) -> str:
        return f"provider-{self.provider.pk}"

    @property
    def account(self) -> Account:
        return Account(self.key, self.provider.max_in_flight, float(self.provider.per_second))

    @property
    def name(self) -> str:
        return self.provider.name

    def count(self, outcome: str) -> None:
        metrics.count(PROVIDER_SENDS, f"{self.provider.org_id}/{self.provider.name}", outcome)


@dataclass
class Delivered:
    message_id: str
    provider: str = ""
    hops: list[str] = field(default_factory=list)


class Exhausted(TransientFailure):
    """Every provider of the org failed or is skipped for now; the send is tried again later."""

    def __init__(self, message: str, hops: list[str], retry_after: float | None = None):
        super().__init__(message, retry_after=retry_after)
        self.hops = hops


class Refused(PermanentFailure):
    def __init__(self, message: str, hops: list[str], provider: str):
        super().__init__(message)
        self.hops, self.provider = hops, provider


def routes_load(sends: list[Send], *, until: float = math.inf) -> dict[tuple[int, str], list[Route]]:
    """(org id, channel) -> the org's enabled providers of the channel, in order; one query a chunk."""
    routes: dict[tuple[int, str], list[Route]] = {}
    orgs = {send.org_id for send in sends}
    for provider in Provider.objects.filter(org_id__in=orgs, enabled=True).order_by("position", "id"):
        routes.setdefault((provider.org_id, provider.channel), []).append(Route(provider, until))
    return routes


def account_level(exc: PermanentFailure) -> bool:
    """A refusal of the account rather than of this message: worth another provider."""
    cause = exc.__cause__
    if not isinstance(cause, AnymailAPIError):
        return False
    if getattr(cause, "status_code", None) in ACCOUNT_STATUSES:
        return True
    try:
        code = cause.response.json().get("ErrorCode")
    except (AttributeError, ValueError):
        return False
    return code in POSTMARK_ACCOUNT_ERRORS


def deliver_through(routes: list[Route], attempt) -> Delivered:
    """Call `attempt(connections)` through each route in turn until one takes the send.

    Raises Refused (a refusal of the recipient: no other provider is tried) or Exhausted.
    """
    circuits = breaker()
    hops: list[str] = []
    retry_after = None
    for route in routes:
        if not circuits.allows(route.key):
            route.count("skipped")
            hops.append(f"{route.name}: skipped, failing for everyone (circuit open)")
            continue
        try:
            message_id = _call(route, attempt)
        except AtLimit:
            route.count("skipped")
            hops.append(f"{route.name}: skipped, at its limits until the chunk's deadline")
        except PermanentFailure as exc:
            if not account_level(exc):
                route.count("refused")
                raise Refused(str(exc), hops, route.name) from exc
            circuits.failed(route.key)
            route.count("failed_over")
            hops.append(f"{route.name}: {exc}")
        except TransientFailure as exc:
            circuits.failed(route.key)
            route.count("failed_over")
            hops.append(f"{route.name}: {exc}")
            retry_after = exc.retry_after or retry_after
        else:
            circuits.succeeded(route.key)
            route.count("sent")
            return Delivered(message_id, route.name, hops)
    raise Exhausted(f"no provider took it: {'; '.join(hops)}", hops, retry_after)


class AtLimit(Exception):
    """The provider's limits did not let the call start before the chunk's deadline."""


def _call(route: Route, attempt) -> str:
    """One call through the route, within its account's limits (held by every worker together): what
    fails over to a provider counts against its limits too, so an outage of the first is no burst at
    the second. A 429 pauses the account for every worker."""
    account = route.account
    if not account.limited:
        return attempt(_connections(route))
    slot = slot_acquire(account, until=route.until)
    if slot is None:
        raise AtLimit()
    try:
        return attempt(_connections(route))
    except TransientFailure as exc:
        if str(exc).startswith("provider answered 429"):
            account_pause(account, max(exc.retry_after or 0, settings.HERALD_PROVIDER_PAUSE_SECONDS))
        raise
    finally:
        slot_release(slot)


class _ProviderConnections:
    """What channels.deliver needs of a connection set, for one provider account."""

    def __init__(self, provider: Provider):
        self.provider = provider
        self._connection = None

    def _open(self, factory):
        if self._connection is None:
            self._connection = factory(self.provider)
            self._connection.open()
        return self._connection

    @property
    def email(self):
        return self._open(email_connection)

    @property
    def sms(self):
        return self._open(sms_connection)

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None


_local = threading.local()


def _connections(route: Route) -> _ProviderConnections:
    """This thread's connection to the account, kept from send to send; a changed provider opens anew."""
    cache = _local.__dict__.setdefault("connections", {})
    provider = route.provider
    key = (provider.pk, provider.updated_at)
    connections = cache.get(provider.pk)
    if connections is None or (connections.provider.pk, connections.provider.updated_at) != key:
        if connections is not None:
            connections.close()
        connections = cache[provider.pk] = _ProviderConnections(provider)
    return connections
