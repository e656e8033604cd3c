"""POST a webhook without letting its URL reach into the network Herald runs in (SSRF).

A webhook URL is the customer's to choose, so it could name the database, the cloud's metadata service or
anything else only Herald's own hosts can reach. Every connection (the first, and each redirect's) resolves
its host once, refuses it when any address is not public, and connects to an address it checked: a DNS
answer that changes between the check and the connect (rebinding) has no second look-up to slip into.
`WEBHOOK_ALLOW_PRIVATE_NETWORKS=true` lifts the check for private networks (tests, receivers on an internal
network), never for the cloud metadata addresses.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance metadata (AWS, GCP, Azure, Oracle; AWS over IPv6; Alibaba): credentials are one GET away there.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
# Most telling first: 127.0.0.1 is private too, but "loopback" says more.
KINDS = {
    "loopback": "a loopback",
    "unspecified": "an unspecified",
    "link_local": "a link-local",
    "private": "a private",
    "multicast": "a multicast",
    "reserved": "a reserved",
}
MAX_REDIRECTS = 3
# (connect, read) seconds per hop: a slow receiver costs a worker at most this long, then is retried.
TIMEOUT = (5, 10)
EXCERPT_BYTES = 500


class Refused(Exception):
    """The URL, or a redirect, leads somewhere Herald does not post to."""


@dataclass(frozen=True)
class Answer:
    status_code: int
    url: str
    excerpt: str


def address_problem(ip: IPAddress, *, allow_private: bool) -> str | None:
    """Why Herald must not connect to this address ("127.0.0.1 is a loopback address"); None if it may."""
    embedded = _embedded_ipv4(ip)
    judged = embedded or ip
    named = f"{ip} ({embedded})" if embedded else str(ip)
    if judged in METADATA_ADDRESSES:
        return f"{named} is a cloud metadata address"
    if allow_private:
        return None
    for kind, described in KINDS.items():
        if getattr(judged, f"is_{kind}"):
            return f"{named} is {described} address"
    if not judged.is_global:  # shared (carrier-grade NAT) space and the like
        return f"{named} is not a public address"
    return None


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    # ::ffff:127.0.0.1 and 6to4's 2002:7f00:1:: reach an IPv4 address: judge that one.
    if isinstance(ip, ipaddress.IPv6Address):
        return ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
    return None


def url_problem(url: str, *, allow_private: bool) -> str | None:
    """What is wrong with a webhook URL as written, without resolving its host (delivery does that)."""
    problem = _shape_problem(url)
    if problem:
        return problem
    host = urlsplit(url).hostname
    ip = _numeric_host(host)
    if ip is not None:
        problem = address_problem(ip, allow_private=allow_private)
        return _refusal(ip, problem) if problem else None
    if not allow_private and (host.rstrip(".") == "localhost" or host.rstrip(".").endswith(".localhost")):
        return _refusal(None, f"{host} is a loopback name")
    return None  # a name: resolved, and its addresses checked, at each delivery


def _shape_problem(url: str) -> str | None:
    if not isinstance(url, str) or any(c.isspace() or ord(c) < 32 for c in url):
        return "Not a valid URL: it has spaces or control characters."
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError:
        return "Not a valid URL."
    if parts.scheme not in ("http", "https"):
        return "Use an http:// or https:// URL."
    if not parts.hostname:
        return "The URL names no host."
    return None


def _refusal(ip: IPAddress | None, problem: str) -> str:
    if ip is not None and (_embedded_ipv4(ip) or ip) in METADATA_ADDRESSES:
        return f"{problem}; Herald never posts there."
    return f"{problem}; Herald posts only to public addresses unless WEBHOOK_ALLOW_PRIVATE_NETWORKS=true."


def _numeric_host(host: str) -> IPAddress | None:
    # AI_NUMERICHOST parses what the resolver would take as an address (127.1, 0x7f000001, ::1) and never
    # asks DNS, so creating an endpoint does not wait on, or leak to, a name server.
    try:
        info = socket.getaddrinfo(host, None, flags=socket.AI_NUMERICHOST)
        return ipaddress.ip_address(info[0][4][0])
    except (OSError, UnicodeError, ValueError):
        return None


def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body` to `url`, following up to MAX_REDIRECTS redirects, each to a checked address.

    Raises Refused, or requests' own exceptions for network failures.
    """
    with requests.Session() as session:
        session.trust_env = False  # no proxy from the environment: the address check must see the target
        adapter = _CheckedAdapter(max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        for _hop in range(MAX_REDIRECTS + 1):
            # Where it leads is checked as each connection is made; here only that it is an http(s) URL at
            # all (a redirect may name file://).
            problem = _shape_problem(url)
            if problem:
                raise Refused(f"{url}: {problem}")
            response = session.post(
                url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False, stream=True
            )
            with response:
                location = session.get_redirect_target(response)
                if location is None:
                    excerpt = next(response.iter_content(EXCERPT_BYTES), b"")
                    return Answer(response.status_code, url, excerpt.decode("utf-8", "replace"))
            # Every redirect re-posts the same signed body: the receiver moved, the notification did not.
            url = urljoin(url, location)
    raise Refused(f"More than {MAX_REDIRECTS} redirects; the last to {url}.")


class _CheckedConnectionMixin:
    """urllib3's connection, but resolving once, checking each address, and connecting to one checked."""

    def _new_conn(self) -> socket.socket:
        try:
            infos = socket.getaddrinfo(self._dns_host, self.port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        allow_private = settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS
        addresses = []
        for *_, sockaddr in infos:
            try:
                ip = ipaddress.ip_address(sockaddr[0])
            except ValueError as exc:
                raise Refused(f"{self.host} resolves to {sockaddr[0]!r}, not an address") from exc
            problem = address_problem(ip, allow_private=allow_private)
            if problem:
                # Any bad address refuses the host: trying the good ones first would still let a later
                # connection (a retry, a pooled reconnect) land on the bad one.
                raise Refused(f"{self.host}: {_refusal(ip, problem)}")
            addresses.append(str(ip))
        error: OSError | None = None
        for address in dict.fromkeys(addresses):
            try:
                return connection.create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as exc:
                raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from exc
            except OSError as exc:
                error = exc
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")


class _CheckedHTTPConnection(_CheckedConnectionMixin, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_CheckedConnectionMixin, HTTPSConnection):
    pass  # TLS still verifies the certificate for the URL's host name, not for the address


class _CheckedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _CheckedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _CheckedHTTPConnectionPool,
            "https": _CheckedHTTPSConnectionPool,
        }
