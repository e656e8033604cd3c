"""The provider call's client (issue 15): Anymail's real Postmark backend and requests against a local
stand-in that speaks Postmark's API, over one kept-alive connection, reading the environment once."""

import json
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.core.mail import get_connection

from bench import esp_standin
from campaigns.models import Campaign, CampaignKind
from dispatch.channels import Connections, PermanentFailure, deliver
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


class ProxyStandIn(ThreadingHTTPServer):
    """An HTTP proxy on loopback that answers as Postmark itself, keeping each request's target: a
    request sent through a proxy names the whole URL ("POST http://host/email")."""

    def __init__(self):
        self.targets: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                posted = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.targets.append(self.path)
                body = json.dumps({"To": posted["To"], "MessageID": str(uuid.uuid4()), "ErrorCode": 0,
                                   "Message": "OK"}).encode()  # fmt: skip
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def proxy():
    server = ProxyStandIn()
    yield server
    server.shutdown()
    server.server_close()


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
    from dispatch.channels import _addresses_parsed

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
