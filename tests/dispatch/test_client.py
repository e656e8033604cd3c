"""The provider call's client (issue 15): Anymail's real Postmark backend and requests against a local
stand-in that speaks Postmark's API, over one kept-alive connection, reading the environment once."""

import json
import socketserver
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
import time_machine
from django.core.mail import get_connection
from twilio.http.http_client import TwilioHttpClient

from bench import esp_standin
from campaigns.models import Campaign, CampaignKind
from dispatch import twilio as twilio_backend
from dispatch.channels import Connections, PermanentFailure, _addresses_parsed, deliver
from dispatch.chunk import sends_dispatch
from mailings.models import Mailing
from mailings.rendering import Rendered
from sends.models import Send

TOKEN = "server-token"
CORRELATION = uuid.UUID("7d1c2a9e-4b6f-4c1e-9a57-0c3f5e8b2d41")
SENT_AT = datetime(2026, 12, 7, 16, 30, 5, tzinfo=UTC)


class RecordingStandIn(esp_standin.StandIn):
    """The Postmark stand-in, keeping what each send request carried."""

    def reset(self) -> None:
        super().reset()
        self.posted: list[dict] = []

    def _postmark(self, path, headers, body):
        self.posted.append({"path": path, "headers": headers, "json": json.loads(body)})
        return super()._postmark(path, headers, body)


@pytest.fixture
def standin(monkeypatch):
    monkeypatch.setattr(esp_standin, "StandIn", RecordingStandIn)
    server, url = esp_standin.start(delay_ms=0)
    yield server
    server.stop()


def postmark(settings, url: str) -> None:
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": TOKEN, "POSTMARK_API_URL": url}


@pytest.fixture
def to_standin(settings, standin):
    postmark(settings, standin.url)
    return standin


def a_send(i: int = 0, *, marketing: bool = False, correlation_id: uuid.UUID | None = None) -> Send:
    mailing = Mailing(
        name="Order confirmation", channel="email", from_email="Shop <shop@example.com>",
        reply_to="Shop support <support@example.com>", subject="-", text="-",
    )  # fmt: skip
    campaign = Campaign(key="news", kind=CampaignKind.MARKETING) if marketing else None
    return Send(
        mailing=mailing, campaign=campaign, channel="email", to_address=f"ada.{i}@customers.example.com",
        correlation_id=correlation_id or uuid.uuid4(),
    )  # fmt: skip


RENDERED = Rendered(locale="en", subject="Order 42 confirmed, Ada", text="Hi Ada,\n", html="<p>Hi Ada,</p>")


# --- what reaches the provider ------------------------------------------------------------------------


def test_what_reaches_postmark_is_the_message_field_for_field(to_standin):
    with time_machine.travel(SENT_AT, tick=False):
        message_id = deliver(a_send(correlation_id=CORRELATION, marketing=True), RENDERED, [], Connections())
    [posted] = to_standin.posted
    assert posted["path"] == "/email"
    assert posted["headers"]["x-postmark-server-token"] == TOKEN
    assert posted["headers"]["content-type"] == "application/json"
    unsubscribe = posted["json"]["Headers"][2]["Value"]
    assert unsubscribe.startswith("<http://127.0.0.1:8000/u/7d1c2a9e4b6f4c1e9a570c3f5e8b2d41.")
    assert posted["json"] == {
        "From": "Shop <shop@example.com>",
        "To": "ada.0@customers.example.com",
        "Subject": "Order 42 confirmed, Ada",
        "ReplyTo": "Shop support <support@example.com>",
        "Headers": [
            {"Name": "Message-ID", "Value": f"<{CORRELATION}@herald.localhost>"},
            {"Name": "Date", "Value": "Mon, 07 Dec 2026 16:30:05 -0000"},
            {"Name": "List-Unsubscribe", "Value": unsubscribe},
            {"Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click"},
        ],
        "TextBody": "Hi Ada,\n",
        "HtmlBody": "<p>Hi Ada,</p>",
        "Metadata": {"herald_send": str(CORRELATION)},
    }
    assert uuid.UUID(message_id)  # the stand-in's MessageID, as Postmark answers


def test_each_send_of_a_mailing_carries_its_own_recipient_and_ids(to_standin):
    sends = [a_send(i) for i in range(3)]
    connections = Connections()
    for send in sends:
        deliver(send, RENDERED, [], connections)
    posted = [p["json"] for p in to_standin.posted]
    assert [p["To"] for p in posted] == [s.to_address for s in sends]
    assert [p["Metadata"]["herald_send"] for p in posted] == [str(s.correlation_id) for s in sends]
    assert {p["From"] for p in posted} == {"Shop <shop@example.com>"}
    assert {p["ReplyTo"] for p in posted} == {"Shop support <support@example.com>"}


# --- one kept-alive connection ------------------------------------------------------------------------


def test_the_sends_of_one_connections_share_one_http_connection(to_standin):
    connections = Connections()
    for i in range(20):
        deliver(a_send(i), RENDERED, [], connections)
    stats = to_standin.stats()
    assert stats["api_requests"] == 20
    assert stats["connections_total"] == 1
    connections.close()


# --- the environment, read once -----------------------------------------------------------------------


class Loopback(ThreadingHTTPServer):
    """A small HTTP server on 127.0.0.1 that keeps each request and counts the connections it accepted;
    `answer(path, body)` gives (status, JSON) for each request."""

    def __init__(self, answer):
        self.requests: list[dict] = []
        self.connections = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive

            def setup(self) -> None:
                super().setup()
                server.connections += 1

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                server.requests.append({"target": self.path, "headers": dict(self.headers), "body": body})
                status, reply = answer(self.path, body)
                reply = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def targets(self) -> list[str]:
        return [r["target"] for r in self.requests]

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def postmark_answer(path: str, body: bytes) -> tuple[int, dict]:
    to = json.loads(body)["To"]
    return 200, {"To": to, "MessageID": str(uuid.uuid4()), "ErrorCode": 0, "Message": "OK"}


@pytest.fixture
def proxy():
    """An HTTP proxy that answers as Postmark itself: through a proxy, a request names the whole URL
    ("POST http://host/email")."""
    server = Loopback(postmark_answer)
    yield server
    server.stop()


@pytest.fixture
def clean_proxy_env(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


def test_an_operators_proxy_from_the_environment_still_carries_the_sends(settings, proxy, clean_proxy_env):
    clean_proxy_env.setenv("HTTP_PROXY", proxy.url)
    postmark(settings, "http://postmark.invalid/")  # resolvable only by the proxy
    connections = Connections()
    deliver(a_send(0), RENDERED, [], connections)
    deliver(a_send(1), RENDERED, [], connections)
    assert proxy.targets == ["http://postmark.invalid/email"] * 2


def test_no_proxy_in_the_environment_still_sends_directly(to_standin, proxy, clean_proxy_env):
    clean_proxy_env.setenv("HTTP_PROXY", proxy.url)
    clean_proxy_env.setenv("NO_PROXY", "127.0.0.1")
    deliver(a_send(), RENDERED, [], Connections())
    assert proxy.targets == []
    assert len(to_standin.posted) == 1


def test_the_environment_is_read_when_the_connection_opens_not_on_every_send(
    to_standin, proxy, clean_proxy_env
):
    connections = Connections()
    deliver(a_send(0), RENDERED, [], connections)
    clean_proxy_env.setenv("HTTP_PROXY", proxy.url)  # too late for this connection; the next one takes it
    deliver(a_send(1), RENDERED, [], connections)
    assert proxy.targets == [] and len(to_standin.posted) == 2
    session = connections.email.session
    assert session.trust_env is False and session.proxies == {}
    connections.close()
    deliver(a_send(2), RENDERED, [], connections)
    assert len(proxy.targets) == 1


def test_a_ca_bundle_from_the_environment_is_the_sessions(settings, clean_proxy_env, tmp_path):
    bundle = tmp_path / "ca.pem"
    clean_proxy_env.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    postmark(settings, "https://api.postmarkapp.com/")
    assert Connections().email.session.verify == str(bundle)


def test_a_plain_django_backend_is_left_as_it_is(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert type(Connections().email) is type(get_connection())


# --- work done once, not per send ---------------------------------------------------------------------


def test_a_mailings_from_and_reply_to_are_parsed_once_for_all_its_sends(to_standin):
    _addresses_parsed.cache_clear()
    connections = Connections()
    for i in range(5):
        deliver(a_send(i), RENDERED, [], connections)
    assert (_addresses_parsed.cache_info().misses, _addresses_parsed.cache_info().hits) == (2, 8)
    assert len(to_standin.posted) == 5


@pytest.mark.parametrize("field", ["from_email", "reply_to"])
def test_a_bad_mailing_address_fails_each_of_its_sends_naming_the_field(to_standin, field):
    connections = Connections()
    for i in range(2):
        send = a_send(i)
        setattr(send.mailing, field, "Shop <shop@>")
        with pytest.raises(PermanentFailure, match=f"AnymailInvalidAddress: .* in `{field}`"):
            deliver(send, RENDERED, [], connections)
    assert to_standin.posted == []


def test_the_date_header_is_the_current_second(to_standin):
    connections = Connections()
    for at in (SENT_AT, SENT_AT.replace(second=6)):
        with time_machine.travel(at, tick=False):
            deliver(a_send(), RENDERED, [], connections)
    assert [p["json"]["Headers"][1]["Value"] for p in to_standin.posted] == [
        "Mon, 07 Dec 2026 16:30:05 -0000",
        "Mon, 07 Dec 2026 16:30:06 -0000",
    ]


# --- SMS through Twilio's own client ------------------------------------------------------------------

SID, AUTH = "AC" + "0" * 32, "twilio-auth-token"


class ToStandIn(TwilioHttpClient):
    """Twilio's own HTTP client and its requests session, with only the scheme and host of each URL
    swapped for the stand-in's."""

    url = ""  # set by the fixture

    def request(self, method, url, *args, **kwargs):
        local = url.replace(twilio_backend.API_URL.rstrip("/"), ToStandIn.url)
        return super().request(method, local, *args, **kwargs)


class TwilioToStandIn(twilio_backend.TwilioSMSBackend):
    http_client = ToStandIn


@pytest.fixture
def twilio(settings, monkeypatch):
    """A local stand-in for Twilio's Messages API, and the Twilio backend posting to it."""
    server = Loopback(lambda path, body: (201, {"sid": f"SM{uuid.uuid4().hex}", "status": "queued"}))
    monkeypatch.setattr(ToStandIn, "url", server.url)
    settings.SMS_BACKEND = f"{__name__}.TwilioToStandIn"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = SID, AUTH
    settings.TWILIO_FROM, settings.TWILIO_MESSAGING_SERVICE_SID = "+4915100000001", ""
    settings.TWILIO_STATUS_CALLBACK_URL = ""
    yield server
    server.stop()


def an_sms(i: int = 0) -> Send:
    return Send(channel="sms", to_address=f"+49151000000{i:02d}", mailing=Mailing(channel="sms"))


def test_sms_through_twilio_share_one_kept_alive_connection(twilio):
    connections = Connections()
    sids = [deliver(an_sms(i), RENDERED, [], connections) for i in range(5)]
    assert all(sid.startswith("SM") for sid in sids) and len(set(sids)) == 5
    assert twilio.targets == [f"/2010-04-01/Accounts/{SID}/Messages.json"] * 5
    assert parse_qs(twilio.requests[0]["body"].decode()) == {
        "To": ["+4915100000000"], "Body": ["Hi Ada,\n"], "From": ["+4915100000001"],
    }  # fmt: skip
    assert twilio.requests[0]["headers"]["Authorization"].startswith("Basic ")
    assert twilio.connections == 1
    connections.close()


def test_twilios_session_reads_the_proxy_from_the_environment_once(twilio, clean_proxy_env):
    clean_proxy_env.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    connections = Connections()
    session = connections.sms.client.http_client.session
    clean_proxy_env.setenv("HTTPS_PROXY", "http://127.0.0.1:3129")
    assert session.trust_env is False
    assert session.proxies["https"] == "http://127.0.0.1:3128"


# --- SMTP through Django's backend --------------------------------------------------------------------


class SMTPStandIn(socketserver.ThreadingTCPServer):
    """Just enough SMTP on 127.0.0.1 for Django's backend: keeps each message and counts connections."""

    daemon_threads = True

    def __init__(self):
        self.messages: list[bytes] = []
        self.connections = 0
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                server.connections += 1
                self.wfile.write(b"220 localhost ESMTP\r\n")
                while line := self.rfile.readline():
                    verb = line[:4].upper()
                    if verb == b"DATA":
                        self.wfile.write(b"354 go ahead\r\n")
                        data = b"".join(iter(self.rfile.readline, b".\r\n"))
                        server.messages.append(data)
                        self.wfile.write(b"250 queued\r\n")
                    elif verb == b"QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:  # EHLO, MAIL, RCPT, RSET, NOOP
                        self.wfile.write(b"250 ok\r\n")

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


@pytest.fixture
def smtp(settings):
    server = SMTPStandIn()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.server_address[1]
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield server
    server.shutdown()
    server.server_close()


def test_smtp_sends_share_one_kept_alive_connection(smtp):
    connections = Connections()
    sends = [a_send(i) for i in range(4)]
    for send in sends:
        assert deliver(send, RENDERED, [], connections) == f"<{send.correlation_id}@herald.localhost>"
    connections.close()
    assert len(smtp.messages) == 4
    assert all(f"To: {s.to_address}".encode() in m for s, m in zip(sends, smtp.messages, strict=True))
    assert smtp.connections == 1


# --- through dispatch ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_chunks_dispatched_one_after_another_reuse_the_workers_connection(to_standin, settings, make_send):
    settings.HERALD_DISPATCH_IN_FLIGHT = 1  # one pool thread, so one set of connections
    sends = [make_send() for _ in range(4)]
    sends_dispatch(send_ids=[s.pk for s in sends[:2]])
    sends_dispatch(send_ids=[s.pk for s in sends[2:]])
    assert Send.objects.filter(status=Send.Status.SENT).count() == 4
    assert sorted(p["json"]["To"] for p in to_standin.posted) == sorted(s.to_address for s in sends)
    assert to_standin.stats()["connections_total"] == 1


def test_closing_the_connections_closes_twilios_socket(twilio):
    connections = Connections()
    deliver(an_sms(), RENDERED, [], connections)
    pools = connections.sms.client.http_client.session.adapters["http://"].poolmanager.pools
    assert len(pools) == 1
    connections.close()
    assert len(pools) == 0
