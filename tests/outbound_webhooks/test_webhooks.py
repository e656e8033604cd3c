"""Outcomes out: each org's webhook endpoints hear what became of its sends, signed, retried until a 2xx.

The receiver is a real HTTP server on 127.0.0.1, so these tests allow private networks, except where they
prove that Herald refuses them.
"""

import json
import re
import threading
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from config.celery import app as celery_app
from dispatch.chunk import sends_dispatch
from dispatch.claim import sends_claim
from dispatch.record import outcome_record
from orgs.services import token_create
from outbound_webhooks.deliveries import webhook_deliveries_sweep, webhook_delivery_attempt
from outbound_webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from outbound_webhooks.subscriptions import webhook_subscriptions_load
from sends.models import Send
from tests import backends
from tests.conftest import api_client_for
from tests.factories import MailingFactory
from tests.provider_events.providers import ANYMAIL_SETTINGS, MESSAGE_IDS, amazon_ses, postmark

pytestmark = pytest.mark.django_db
Status = Send.Status
Delivery = WebhookDelivery.Status


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """An HTTP server in a thread: records every request, answers each with the next scripted answer."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.requests: list[Received] = []
        self.answers: list[tuple[int, dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {key.lower(): value for key, value in self.headers.items()}
                receiver.requests.append(Received(self.path, headers, body))
                status, extra, answer = receiver.answers.pop(0) if receiver.answers else (200, {}, b"ok")
                self.send_response(status)
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.host, self.port = host, self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def url(self, path: str = "/hook", host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    def answer(self, status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        self.answers.append((status, headers or {}, body))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def documented_verifier():
    """The receiver's check exactly as docs/webhooks.md prints it, so the page cannot drift from Herald."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    section = page.split("## Verifying the signature", 1)[1]
    snippet = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    namespace: dict = {}
    exec(snippet, namespace)
    return namespace["herald_signature_is_valid"]


verify = documented_verifier()


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def run(eager_tasks, django_capture_on_commit_callbacks):
    """A block after which what it enqueued has run, as workers would once its transaction committed."""
    celery_app.conf.task_eager_propagates = True
    yield lambda: django_capture_on_commit_callbacks(execute=True)
    celery_app.conf.task_eager_propagates = False


@pytest.fixture
def subscribe(api):
    def subscribe(url: str, client=None, **fields) -> dict:
        response = (client or api).post("/api/v1/webhooks/", {"url": url, **fields}, format="json")
        assert response.status_code == 201, response.json()
        return response.json()

    return subscribe


def dispatch(run, *sends: Send) -> None:
    with run():
        sends_dispatch(send_ids=[s.pk for s in sends])


def test_a_sent_send_notifies_a_native_endpoint_with_a_signed_json_body(
    api, campaign, run, receiver, subscribe
):
    endpoint = subscribe(receiver.url())
    with run():
        response = api.post(
            "/api/v1/campaigns/order-completed/trigger/",
            {"recipients": [{"email": "ann@example.com"}], "context": {"order_number": "A-1"}},
            format="json",
        )
    assert response.status_code == 202
    send = Send.objects.get()
    [request] = receiver.requests
    assert request.path == "/hook"
    assert request.headers["content-type"] == "application/json"
    assert verify(endpoint["secret"], request.headers["herald-signature"], request.body)
    assert not verify("whsec_someone-else", request.headers["herald-signature"], request.body)
    body = request.json
    assert (body["event"], body["provider_event"]) == ("sent", None)
    assert body["id"] == request.headers["herald-delivery"]
    assert body["send"] == {
        "id": send.pk, "correlation_id": str(send.correlation_id), "status": "sent", "channel": "email",
        "to_address": "ann@example.com", "campaign": "order-completed", "trigger": send.trigger_id,
        "reference": None, "recipient": send.recipient_id, "metadata": {}, "error": None,
    }  # fmt: skip
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (Delivery.DELIVERED, 1, 200)
    assert delivery.next_attempt_at is None
    assert list(delivery.attempt_log.values_list("status_code", "url")) == [(200, receiver.url())]


def test_each_dispatch_outcome_is_told_with_its_error(run, receiver, subscribe, make_send, org):
    subscribe(receiver.url())
    expired = make_send(expires_at=timezone.now() - timedelta(minutes=1))
    refused = make_send()
    backends.script.extend([backends.provider_error(422)])
    dispatch(run, expired, refused)
    told = {r.json["send"]["id"]: r.json for r in receiver.requests}
    assert told[expired.pk]["event"] == "expired"
    assert told[expired.pk]["send"]["error"] == "Not dispatched before it expired."
    assert told[refused.pk]["event"] == "failed"
    assert "422" in told[refused.pk]["send"]["error"]


def test_a_retry_later_is_no_outcome_and_tells_nothing(run, receiver, subscribe, make_send):
    subscribe(receiver.url())
    backends.script.append(backends.provider_error(503))
    send = make_send()
    dispatch(run, send)
    send.refresh_from_db()
    assert send.status == Status.SCHEDULED
    assert receiver.requests == [] and not WebhookDelivery.objects.exists()


def test_an_endpoint_hears_only_the_statuses_it_asked_for(
    client, settings, run, receiver, subscribe, make_send
):
    settings.ANYMAIL = ANYMAIL_SETTINGS
    subscribe(receiver.url(), events=["delivered", "bounced"])
    send = make_send()
    dispatch(run, send)
    assert receiver.requests == []  # sent is not among them
    send.refresh_from_db()
    send.provider_message_id = MESSAGE_IDS["Postmark"]
    send.save()
    webhook = postmark(
        "delivered", message_id=send.provider_message_id, address=send.to_address, at=1714557600
    )
    with run():
        assert webhook.post(client).status_code == 200
        assert webhook.post(client).status_code == 200  # a replayed event moves nothing, tells nothing
        opened = postmark(
            "opened", message_id=send.provider_message_id, address=send.to_address, at=1714557700
        )
        assert opened.post(client).status_code == 200
    [request] = receiver.requests
    assert request.json["event"] == "delivered"
    assert request.json["provider_event"]["esp_name"] == "Postmark"
    assert request.json["provider_event"]["mta_response"] == "smtp;250 2.0.0 OK"


def test_an_outcome_overtaken_by_a_tracking_event_is_not_told_twice(run, receiver, subscribe, make_send):
    subscribe(receiver.url())
    send = make_send()
    token, [claimed] = sends_claim(send_ids=[send.pk])
    Send.objects.filter(pk=send.pk).update(status=Status.DELIVERED)  # the provider's webhook came first
    with run():
        outcome_record(send=claimed, token=token, status=Status.SENT, sent_at=None)
    send.refresh_from_db()
    assert (send.status, send.claim_token) == (Status.DELIVERED, None)
    assert receiver.requests == []


def test_an_endpoint_deleted_while_the_chunk_goes_out_costs_no_outcome(run, receiver, subscribe, make_send):
    endpoint = subscribe(receiver.url())
    send = make_send()
    token, [claimed] = sends_claim(send_ids=[send.pk])
    subscriptions = webhook_subscriptions_load(sends=[claimed])
    WebhookEndpoint.objects.filter(pk=endpoint["id"]).delete()
    with run():
        assert (
            outcome_record(send=claimed, token=token, subscriptions=subscriptions, status=Status.SENT) is True
        )
    send.refresh_from_db()
    assert send.status == Status.SENT
    # And no delivery pointing at the deleted endpoint: its foreign key would fail the outcome's commit.
    assert not WebhookDelivery.objects.exists() and receiver.requests == []


def test_a_fault_in_building_a_notification_never_costs_the_outcome(
    run, receiver, subscribe, make_send, monkeypatch, caplog
):
    subscribe(receiver.url())

    def broken(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr("outbound_webhooks.subscriptions.payload_for", broken)
    send = make_send()
    dispatch(run, send)
    send.refresh_from_db()
    assert (send.status, send.claim_token) == (Status.SENT, None)  # not left to be dispatched again
    assert not WebhookDelivery.objects.exists()
    assert "could not be built" in caplog.text


def test_only_active_endpoints_of_the_sends_own_org_hear_of_it(
    run, receiver, subscribe, make_send, other_api
):
    subscribe(receiver.url("/mine"), active=False)
    subscribe(receiver.url("/theirs"), client=other_api)
    dispatch(run, make_send())
    assert receiver.requests == []


def test_dispatch_looks_up_endpoints_once_a_chunk_and_writes_nothing_when_there_are_none(make_send):
    sends = [make_send() for _ in range(5)]
    with CaptureQueriesContext(connection) as queries:
        assert sends_dispatch(send_ids=[s.pk for s in sends]) == {"sent": 5}
    webhook_queries = [q["sql"] for q in queries if "outbound_webhooks_webhook" in q["sql"]]
    assert len(webhook_queries) == 1 and "outbound_webhooks_webhookendpoint" in webhook_queries[0]


# parcelLab's feedback webhook


@pytest.fixture
def parcellab(org, campaign, run):
    _, secret = token_create(org=org, name="parcelLab", scopes=["send"])

    def trigger(correlation_id: str, address: str = "ann@example.com"):
        body = {
            "to": [{"address": address}], "channel": "email", "message": campaign.key,
            "placeholders": [{"name": "order_number", "value": "P-1"}], "correlationId": correlation_id,
        }  # fmt: skip
        with run():
            response = APIClient().post(
                "/v2/trigger-message", body, format="json", headers={"user": str(org.pk), "token": secret}
            )
        assert response.status_code == 202, response.content
        return Send.objects.get(trigger__reference=correlation_id)

    return trigger


def test_parcellab_feedback_tells_success_by_the_callers_correlation_id(
    client, settings, run, receiver, subscribe, parcellab
):
    settings.ANYMAIL = ANYMAIL_SETTINGS
    subscribe(receiver.url(), format="parcellab")
    send = parcellab("order-77")
    Send.objects.filter(pk=send.pk).update(provider_message_id=MESSAGE_IDS["Postmark"])
    with run():
        postmark(
            "delivered", message_id=MESSAGE_IDS["Postmark"], address=send.to_address, at=1714557600
        ).post(client)
    assert [r.json for r in receiver.requests] == [
        {"correlationId": "order-77", "success": True},  # sent
        {"correlationId": "order-77", "success": True},  # delivered
    ]


@pytest.mark.parametrize(
    ("kind", "failure"),
    [("bounced", "Permanent / General"), ("soft_bounced", "Transient / General")],
)
def test_parcellab_feedback_tells_a_bounce_with_its_type(
    client, settings, run, receiver, subscribe, parcellab, kind, failure
):
    settings.ANYMAIL = ANYMAIL_SETTINGS
    subscribe(receiver.url(), format="parcellab", events=["bounced"])
    send = parcellab("order-78")
    Send.objects.filter(pk=send.pk).update(provider_message_id=MESSAGE_IDS["Postmark"])
    with run():
        postmark(kind, message_id=MESSAGE_IDS["Postmark"], address=send.to_address, at=1714557600).post(
            client
        )
    assert [r.json for r in receiver.requests] == [
        {"correlationId": "order-78", "success": False, "failure": failure}
    ]


def test_parcellab_feedback_takes_amazons_bounce_type_as_amazon_says_it(
    client, settings, run, receiver, subscribe, make_send
):
    settings.ANYMAIL = ANYMAIL_SETTINGS
    subscribe(receiver.url(), format="parcellab")
    send = make_send(status=Status.SENT, provider_message_id=MESSAGE_IDS["Amazon SES"])
    with run():
        amazon_ses(
            "bounced", message_id=MESSAGE_IDS["Amazon SES"], address=send.to_address, at=1714557600
        ).post(client)
    # Not triggered through parcelLab's dialect: the send's own correlation id names it.
    [request] = receiver.requests
    assert request.json["correlationId"] == str(send.correlation_id)
    assert request.json["success"] is False
    assert request.json["failure"].startswith("Permanent / ")


def test_parcellab_feedback_tells_a_failed_dispatch(run, receiver, subscribe, parcellab):
    subscribe(receiver.url(), format="parcellab")
    backends.script.append(backends.provider_error(422))
    parcellab("order-79")
    assert [r.json for r in receiver.requests] == [
        {"correlationId": "order-79", "success": False, "failure": "Permanent / General"}
    ]


@pytest.mark.parametrize(
    ("body", "headers", "reference"),
    [
        ({"reference": "order-A-1001"}, {"Idempotency-Key": "attempt-1"}, "order-A-1001"),
        ({}, {"Idempotency-Key": "order-A-1002"}, "order-A-1002"),
    ],
    ids=["reference", "idempotency-key"],
)
def test_every_format_tells_the_callers_own_id_for_a_native_trigger(
    api, campaign, run, receiver, subscribe, body, headers, reference
):
    subscribe(receiver.url("/native"))
    subscribe(receiver.url("/parcellab"), format="parcellab")
    with run():
        response = api.post(
            f"/api/v1/campaigns/{campaign.key}/trigger/",
            {"recipients": [{"email": "ann@example.com"}], **body},
            format="json",
            headers=headers,
        )
    assert response.status_code == 202
    told = {r.path: r.json for r in receiver.requests}
    assert told["/native"]["send"]["reference"] == reference
    assert told["/parcellab"] == {"correlationId": reference, "success": True}


def test_every_format_tells_marketing_clouds_request_id(org, campaign, run, receiver, subscribe):
    subscribe(receiver.url("/native"))
    subscribe(receiver.url("/parcellab"), format="parcellab")
    _, secret = token_create(org=org, name="sfmc")
    token = APIClient().post(
        "/v2/token",
        {"grant_type": "client_credentials", "client_id": str(org.pk), "client_secret": secret},
        format="json",
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.json()['access_token']}")
    with run():
        answer = client.post(
            f"/messaging/v1/messageDefinitionSends/key:{campaign.key}/send",
            {"To": {"Address": "ann@example.com"}},
            format="json",
        ).json()
    told = {r.path: r.json for r in receiver.requests}
    assert told["/native"]["send"]["reference"] == answer["requestId"]
    assert told["/native"]["send"]["correlation_id"] == answer["responses"][0]["recipientSendId"]
    assert told["/parcellab"]["correlationId"] == answer["requestId"]


# Retries


def test_a_failing_receiver_is_retried_with_growing_backoff_and_every_attempt_is_logged(
    run, receiver, subscribe, make_send
):
    subscribe(receiver.url())
    for _ in range(10):
        receiver.answer(500, body=b"receiver is down")
    dispatch(run, make_send())
    delivery = WebhookDelivery.objects.get()
    assert (delivery.next_attempt_at - delivery.attempt_log.get().at).total_seconds() == 30
    gaps = []
    for _ in range(9):
        attempted_at = delivery.next_attempt_at
        webhook_delivery_attempt(delivery_id=delivery.pk, attempts=delivery.attempts, now=attempted_at)
        delivery.refresh_from_db()
        gaps.append((delivery.next_attempt_at - attempted_at).total_seconds())
    assert gaps == [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (Delivery.PENDING, 10, 500)
    assert delivery.last_error == "HTTP 500: receiver is down"
    log = list(delivery.attempt_log.values_list("status_code", "error"))
    assert log == [(500, "HTTP 500: receiver is down")] * 10
    assert len(receiver.requests) == 10
    assert len({r.headers["herald-delivery"] for r in receiver.requests}) == 1  # one notification, retried


def test_the_sweep_hands_due_deliveries_to_workers_and_a_2xx_ends_the_retries(
    run, receiver, subscribe, make_send
):
    subscribe(receiver.url())
    receiver.answer(503)
    dispatch(run, make_send())
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (Delivery.PENDING, 1)
    with run():
        assert webhook_deliveries_sweep(now=delivery.next_attempt_at - timedelta(seconds=1)) == 0
    assert len(receiver.requests) == 1
    with run():
        assert webhook_deliveries_sweep(now=delivery.next_attempt_at) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (Delivery.DELIVERED, 2, None)
    assert list(delivery.attempt_log.values_list("status_code", flat=True)) == [503, 200]
    with run():
        assert webhook_deliveries_sweep(now=timezone.now() + timedelta(days=2)) == 0
    assert len(receiver.requests) == 2


def test_a_delivery_whose_task_was_lost_is_sent_by_the_sweep_after_the_lease(
    run, receiver, subscribe, make_send, settings
):
    subscribe(receiver.url())
    send = make_send()
    sends_dispatch(send_ids=[send.pk])  # no commit in this test's transaction: the task is never published
    delivery = WebhookDelivery.objects.get()
    assert receiver.requests == [] and delivery.status == Delivery.PENDING
    lease = timedelta(seconds=settings.HERALD_LEASE_SECONDS)
    with run():
        assert webhook_deliveries_sweep(now=delivery.created_at + lease - timedelta(seconds=1)) == 0
        assert webhook_deliveries_sweep(now=delivery.created_at + lease) == 1
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get().status == Delivery.DELIVERED


def test_a_duplicate_task_posts_nothing_more(run, receiver, subscribe, make_send):
    subscribe(receiver.url())
    receiver.answer(500)
    dispatch(run, make_send())
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (Delivery.PENDING, 1)
    # The task published on commit, delivered twice by the broker: the second holds a stale count.
    assert webhook_delivery_attempt(delivery_id=delivery.pk, attempts=0, now=delivery.next_attempt_at) is None
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get().attempts == 1


def test_retries_go_on_for_24_hours_and_only_then_give_up(run, receiver, subscribe, make_send):
    subscribe(receiver.url())
    receiver.answers = [(500, {}, b"")] * 3
    dispatch(run, make_send())
    delivery = WebhookDelivery.objects.get()
    nearly = delivery.created_at + timedelta(hours=23, minutes=59)
    webhook_delivery_attempt(delivery_id=delivery.pk, attempts=1, now=nearly)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Delivery.PENDING, 2)
    webhook_delivery_attempt(
        delivery_id=delivery.pk, attempts=2, now=delivery.created_at + timedelta(hours=24)
    )
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (Delivery.FAILED, 3, None)
    assert delivery.last_error == "Gave up after 3 attempts: HTTP 500"
    with run():
        assert webhook_deliveries_sweep(now=delivery.created_at + timedelta(days=3)) == 0
    assert len(receiver.requests) == 3


# Where Herald posts


def test_a_redirect_is_followed_with_the_same_signed_body(run, receiver, subscribe, make_send):
    endpoint = subscribe(receiver.url())
    receiver.answer(308, {"Location": "/moved"})
    dispatch(run, make_send())
    first, second = receiver.requests
    assert (first.path, second.path) == ("/hook", "/moved")
    assert second.body == first.body
    assert verify(endpoint["secret"], second.headers["herald-signature"], second.body)
    [attempt] = WebhookAttempt.objects.all()
    assert (attempt.status_code, attempt.url) == (200, receiver.url("/moved"))


@pytest.mark.parametrize(
    ("location", "refusal"),
    [
        # Private networks are allowed here (the receiver is on 127.0.0.1), metadata addresses never are.
        ("http://169.254.169.254/latest/meta-data/iam/", "169.254.169.254 is a cloud metadata address"),
        ("http://[::ffff:169.254.169.254]/latest/", "(169.254.169.254) is a cloud metadata address"),
        ("file:///etc/passwd", "Use an http:// or https:// URL."),
    ],
)
def test_each_redirect_is_checked_before_it_is_followed(
    run, receiver, subscribe, make_send, location, refusal
):
    subscribe(receiver.url())
    receiver.answer(302, {"Location": location})
    dispatch(run, make_send())
    assert len(receiver.requests) == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == Delivery.PENDING  # refused is a failed attempt: retried, in case it changes
    assert delivery.last_error.startswith("Refused: ")
    assert refusal in delivery.last_error


def test_more_than_three_redirects_are_not_followed(run, receiver, subscribe, make_send):
    subscribe(receiver.url())
    for n in range(4):
        receiver.answer(302, {"Location": f"/hop{n}"})
    dispatch(run, make_send())
    assert [r.path for r in receiver.requests] == ["/hook", "/hop0", "/hop1", "/hop2"]
    assert "More than 3 redirects" in WebhookDelivery.objects.get().last_error


@pytest.mark.parametrize(
    ("url", "refusal"),
    [
        ("http://127.0.0.1:8000/hook", "127.0.0.1 is a loopback address"),
        ("http://127.1/hook", "127.0.0.1 is a loopback address"),
        ("http://0x7f000001/hook", "127.0.0.1 is a loopback address"),
        ("http://[::1]/hook", "::1 is a loopback address"),
        ("http://[::ffff:127.0.0.1]/hook", "::ffff:7f00:1 (127.0.0.1) is a loopback address"),
        ("http://[2002:7f00:1::]/hook", "2002:7f00:1:: (127.0.0.1) is a loopback address"),
        ("http://localhost/hook", "localhost is a loopback name"),
        ("http://api.localhost./hook", "api.localhost. is a loopback name"),
        ("http://0.0.0.0/", "0.0.0.0 is an unspecified address"),
        ("https://10.1.2.3/hook", "10.1.2.3 is a private address"),
        ("http://192.168.0.10/", "192.168.0.10 is a private address"),
        ("http://169.254.1.1/", "169.254.1.1 is a link-local address"),
        ("http://100.64.0.1/", "100.64.0.1 is not a public address"),
        ("http://224.0.0.1/", "224.0.0.1 is a multicast address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
        ("http://[fd00:ec2::254]/", "fd00:ec2::254 is a cloud metadata address"),
    ],
)
def test_a_url_on_a_private_address_is_refused_when_subscribing(api, settings, url, refusal):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    response = api.post("/api/v1/webhooks/", {"url": url}, format="json")
    assert response.status_code == 400
    [problem] = response.json()["error"]["problems"]
    assert problem["field"] == "url" and problem["message"].startswith(refusal)
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/hook", "Use an http:// or https:// URL."),
        ("https:///hook", "The URL names no host."),
        ("http://[::1/hook", "Not a valid URL."),
        ("https://example.com:99999/", "Not a valid URL."),
        ("https://example.com/a b", "Not a valid URL: it has spaces or control characters."),
    ],
)
def test_a_url_that_is_not_http_is_refused(api, url, message):
    response = api.post("/api/v1/webhooks/", {"url": url}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["problems"] == [{"field": "url", "message": message}]


def test_a_loopback_url_is_refused_at_delivery_when_private_networks_are_not_allowed(
    run, receiver, make_send, org, settings
):
    # A name, not an address: only resolving it at delivery shows where it leads.
    WebhookEndpoint.objects.create(org=org, url=receiver.url(host="localhost"))
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    dispatch(run, make_send())
    assert receiver.requests == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == Delivery.PENDING
    assert delivery.last_error.startswith("Refused: localhost: ")
    assert "is a loopback address" in delivery.last_error  # 127.0.0.1 or ::1, as the resolver says
    [attempt] = delivery.attempt_log.all()
    assert attempt.status_code is None and attempt.error == delivery.last_error


def test_private_urls_are_taken_when_the_operator_allows_them_and_metadata_never(api, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    assert api.post("/api/v1/webhooks/", {"url": "http://127.0.0.1:9/"}, format="json").status_code == 201
    assert api.post("/api/v1/webhooks/", {"url": "http://localhost/"}, format="json").status_code == 201
    response = api.post("/api/v1/webhooks/", {"url": "http://169.254.169.254/"}, format="json")
    assert response.json()["error"]["problems"] == [
        {"field": "url", "message": "169.254.169.254 is a cloud metadata address; Herald never posts there."}
    ]


# The API


def test_the_secret_is_shown_once_when_subscribing_and_never_again(api, receiver, subscribe):
    created = subscribe(receiver.url(), events=["sent", "failed"])
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert WebhookEndpoint.objects.get().secret == created["secret"]
    detail = api.get(f"/api/v1/webhooks/{created['id']}/").json()
    listed = api.get("/api/v1/webhooks/").json()["results"]
    changed = api.patch(f"/api/v1/webhooks/{created['id']}/", {"active": False}, format="json").json()
    for seen in (detail, *listed, changed):
        assert "secret" not in seen
    assert detail == {k: v for k, v in created.items() if k != "secret"}
    assert changed["active"] is False


def test_events_are_checked_against_what_the_format_can_tell(api, receiver):
    response = api.post(
        "/api/v1/webhooks/",
        {"url": receiver.url(), "format": "parcellab", "events": ["delivered", "complained"]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["problems"] == [
        {"field": "events[1]", "message": "'complained' is not an outcome parcellab endpoints are told of."}
    ]
    response = api.post("/api/v1/webhooks/", {"url": receiver.url(), "events": ["queued"]}, format="json")
    assert response.status_code == 400


def test_a_read_token_reads_endpoints_and_cannot_add_one(org, receiver, subscribe):
    subscribe(receiver.url())
    reader = api_client_for(org, scopes=["read"])
    assert reader.get("/api/v1/webhooks/").status_code == 200
    assert reader.post("/api/v1/webhooks/", {"url": receiver.url()}, format="json").status_code == 403


def test_another_orgs_endpoint_is_not_there(other_api, receiver, subscribe):
    endpoint = subscribe(receiver.url())
    path = f"/api/v1/webhooks/{endpoint['id']}/"
    assert other_api.get(path).status_code == 404
    assert other_api.get(f"{path}deliveries/").status_code == 404
    assert other_api.patch(path, {"url": "https://example.com/"}, format="json").status_code == 404
    assert other_api.delete(path).status_code == 404
    assert other_api.get("/api/v1/webhooks/").json()["results"] == []
    assert WebhookEndpoint.objects.get().url == receiver.url()


def test_an_endpoints_deliveries_list_each_attempt(api, run, receiver, subscribe, make_send):
    endpoint = subscribe(receiver.url())
    receiver.answer(500, body=b"oops")
    dispatch(run, make_send())
    [delivery] = api.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries/").json()["results"]
    assert (delivery["event"], delivery["status"], delivery["attempts"]) == ("sent", "pending", 1)
    assert delivery["payload"]["id"] == delivery["public_id"]
    assert [(a["status_code"], a["error"]) for a in delivery["attempt_log"]] == [(500, "HTTP 500: oops")]


# The admin


def test_staff_replay_a_delivery_from_the_admin(admin_client, run, receiver, subscribe, make_send):
    subscribe(receiver.url())
    dispatch(run, make_send())
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == Delivery.DELIVERED
    with run():
        response = admin_client.post(
            "/admin/outbound_webhooks/webhookdelivery/",
            {"action": "replay", "_selected_action": [delivery.pk]},
        )
    assert response.status_code == 302
    first, again = receiver.requests
    assert again.headers["herald-delivery"] == first.headers["herald-delivery"]
    assert again.body == first.body
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Delivery.DELIVERED, 2)
    assert delivery.attempt_log.count() == 2
    page = admin_client.get(
        f"/admin/outbound_webhooks/webhookdelivery/{delivery.pk}/change/"
    ).content.decode()
    assert "Attempts" in page and receiver.url() in page


def test_a_replayed_delivery_that_gave_up_gets_a_fresh_day_of_retries(
    admin_client, run, receiver, make_send, org
):
    endpoint = WebhookEndpoint.objects.create(org=org, url=receiver.url())
    receiver.answers = [(500, {}, b"")] * 2
    dispatch(run, make_send())
    delivery = WebhookDelivery.objects.get()
    webhook_delivery_attempt(delivery_id=delivery.pk, attempts=1, now=delivery.retry_until)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.FAILED
    with run():
        admin_client.post(
            "/admin/outbound_webhooks/webhookdelivery/",
            {"action": "replay", "_selected_action": [delivery.pk]},
        )
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, endpoint.deliveries.count()) == (Delivery.DELIVERED, 3, 1)


def test_the_admin_shows_the_secret_once_when_an_endpoint_is_added(admin_client, org, receiver):
    response = admin_client.post(
        "/admin/outbound_webhooks/webhookendpoint/add/",
        {"org": org.pk, "url": receiver.url(), "format": "native", "events": ["bounced"], "active": "on"},
        follow=True,
    )
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["bounced"]
    assert endpoint.secret in response.content.decode()
    page = admin_client.get(
        f"/admin/outbound_webhooks/webhookendpoint/{endpoint.pk}/change/"
    ).content.decode()
    assert endpoint.secret not in page


def test_the_admin_refuses_a_private_url_as_the_api_does(admin_client, org, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    response = admin_client.post(
        "/admin/outbound_webhooks/webhookendpoint/add/",
        {"org": org.pk, "url": "http://127.0.0.1/hook", "format": "native", "active": "on"},
    )
    assert response.status_code == 200
    assert "127.0.0.1 is a loopback address" in response.context["adminform"].form.errors["url"][0]
    assert not WebhookEndpoint.objects.exists()


def test_campaign_less_sends_are_told_too(run, receiver, subscribe, org):
    # A test send from the admin has no campaign or trigger.
    subscribe(receiver.url())
    mailing = MailingFactory(org=org)
    send = Send.objects.create(
        org=org, mailing=mailing, channel="email", to_address="t@example.com", context={"order_number": 1},
        queued_at=timezone.now(),
    )  # fmt: skip
    dispatch(run, send)
    [request] = receiver.requests
    assert (request.json["send"]["campaign"], request.json["send"]["trigger"]) == (None, None)
