"""Delivery outcomes in: providers' tracking webhooks, posted to Anymail's views, move sends forward."""

import random
import threading

import pytest
from django.db import IntegrityError, connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dispatch.claim import sends_claim
from dispatch.record import outcome_record
from sends.models import DeliveryEvent, Send
from suppressions.models import Suppression
from tests.factories import RecipientFactory
from tests.provider_events.providers import ANYMAIL_SETTINGS, MESSAGE_IDS, PROVIDERS, amazon_ses, postmark

pytestmark = [
    pytest.mark.django_db,
    # Anymail warns on every SendGrid webhook that it no longer supports SendGrid officially.
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
]
Status = Send.Status
ADDRESS = "ada@example.com"
T0 = 1714557600  # 2024-05-01 10:00 UTC


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    settings.ANYMAIL = ANYMAIL_SETTINGS


@pytest.fixture
def make_sent(org, campaign):
    """A send the worker handed to `esp` and recorded as sent, under that provider's message id."""

    def make(esp: str = "Postmark", **fields) -> Send:
        recipient = RecipientFactory(org=org, email=ADDRESS)
        defaults = dict(
            org=org,
            campaign=campaign,
            mailing=campaign.email_mailing,
            recipient=recipient,
            channel="email",
            to_address=ADDRESS,
            status=Status.SENT,
            sent_at=timezone.now(),
            provider_message_id=MESSAGE_IDS[esp],
        )
        return Send.objects.create(**{**defaults, **fields})

    return make


def post(client, esp: str, kind: str, at: int = T0, **kwargs):
    return PROVIDERS[esp](kind, message_id=MESSAGE_IDS[esp], address=ADDRESS, at=at, **kwargs).post(client)


@pytest.mark.parametrize("esp", PROVIDERS)
def test_a_delivery_webhook_marks_its_send_delivered_and_keeps_the_event(client, make_sent, esp):
    send = make_sent(esp)
    response = post(client, esp, "delivered")
    assert response.status_code == 200
    send.refresh_from_db()
    assert send.status == Status.DELIVERED
    [event] = DeliveryEvent.objects.all()
    assert (event.send_id, event.org_id, event.esp_name) == (send.pk, send.org_id, esp)
    assert (event.event_type, event.address, event.provider_message_id) == (
        "delivered",
        ADDRESS,
        MESSAGE_IDS[esp],
    )
    assert event.occurred_at.timestamp() == pytest.approx(T0, abs=1)
    assert event.payload  # the provider's own event, for whoever digs deeper


@pytest.mark.parametrize("esp", PROVIDERS)
def test_a_hard_bounce_marks_the_send_bounced_and_suppresses_the_address(client, make_sent, esp):
    send = make_sent(esp)
    assert post(client, esp, "bounced").status_code == 200
    send.refresh_from_db()
    assert send.status == Status.BOUNCED
    suppression = Suppression.objects.get(org=send.org, address=ADDRESS)
    assert suppression.reason == Suppression.Reason.BOUNCED
    assert suppression.source_event == DeliveryEvent.objects.get(send=send)


@pytest.mark.parametrize("esp", PROVIDERS)
def test_the_same_event_posted_50_times_is_stored_once_and_changes_the_send_once(client, make_sent, esp):
    send = make_sent(esp)
    assert post(client, esp, "delivered").status_code == 200
    send.refresh_from_db()
    changed_at = send.updated_at
    first = DeliveryEvent.objects.get()
    for _ in range(49):
        assert post(client, esp, "delivered").status_code == 200
    assert list(DeliveryEvent.objects.values_list("pk", flat=True)) == [first.pk]
    send.refresh_from_db()
    assert (send.status, send.updated_at) == (Status.DELIVERED, changed_at)


@pytest.mark.parametrize("esp", ["Postmark", "Mailgun", "Brevo"])
def test_a_delivery_that_arrives_after_the_bounce_leaves_the_send_bounced(client, make_sent, esp):
    send = make_sent(esp)
    post(client, esp, "bounced", at=T0 + 60)
    post(client, esp, "delivered", at=T0)
    send.refresh_from_db()
    assert send.status == Status.BOUNCED
    assert DeliveryEvent.objects.filter(send=send).count() == 2


def test_a_bounce_after_delivery_moves_the_send_on(client, make_sent):
    # Asynchronous bounces: the receiving server accepted the message, then sent it back.
    send = make_sent("SendGrid")
    post(client, "SendGrid", "delivered", at=T0)
    post(client, "SendGrid", "bounced", at=T0 + 600)
    send.refresh_from_db()
    assert send.status == Status.BOUNCED


@pytest.mark.parametrize("esp", ["Postmark", "Amazon SES", "Mailjet"])
def test_an_open_after_delivery_is_recorded_and_keeps_the_send_delivered(client, make_sent, esp):
    send = make_sent(esp)
    post(client, esp, "delivered", at=T0)
    post(client, esp, "opened", at=T0 + 300)
    send.refresh_from_db()
    assert send.status == Status.DELIVERED
    assert list(send.events.values_list("event_type", flat=True)) == ["delivered", "opened"]


def test_an_open_or_click_never_moves_a_bounced_send(client, make_sent):
    send = make_sent("Postmark")
    post(client, "Postmark", "bounced", at=T0)
    post(client, "Postmark", "opened", at=T0 + 10)
    post(client, "Postmark", "clicked", at=T0 + 20)
    send.refresh_from_db()
    assert send.status == Status.BOUNCED
    assert send.events.count() == 3


@pytest.mark.parametrize("esp", ["Postmark", "Amazon SES", "Mailgun"])
def test_a_complaint_after_delivery_marks_the_send_complained_and_suppresses(client, make_sent, esp):
    send = make_sent(esp)
    post(client, esp, "delivered", at=T0)
    post(client, esp, "complained", at=T0 + 3600)
    send.refresh_from_db()
    assert send.status == Status.COMPLAINED
    assert Suppression.objects.get(org=send.org, address=ADDRESS).reason == Suppression.Reason.COMPLAINED


def test_an_unsubscribe_suppresses_without_changing_the_status(client, make_sent):
    send = make_sent("Postmark")
    post(client, "Postmark", "delivered", at=T0)
    post(client, "Postmark", "unsubscribed", at=T0 + 60)
    send.refresh_from_db()
    assert send.status == Status.DELIVERED
    assert Suppression.objects.get(org=send.org, address=ADDRESS).reason == Suppression.Reason.UNSUBSCRIBED


def test_a_soft_bounce_is_a_bounce_but_suppresses_nothing(client, make_sent):
    send = make_sent("Postmark")
    post(client, "Postmark", "soft_bounced")
    send.refresh_from_db()
    assert send.status == Status.BOUNCED
    assert not Suppression.objects.exists()


def test_an_event_for_an_unknown_message_is_kept_without_a_send(client, make_sent, caplog):
    make_sent("Postmark", provider_message_id="some-other-message")
    response = postmark(
        "bounced", message_id="f00dfeed-0000-4000-8000-000000000000", address=ADDRESS, at=T0
    ).post(client)
    assert response.status_code == 200
    [event] = DeliveryEvent.objects.all()
    assert (event.send, event.org, event.event_type) == (None, None, "bounced")
    assert not Suppression.objects.exists()  # no org to suppress it for
    assert "unknown message 'f00dfeed-0000-4000-8000-000000000000'" in caplog.text


@pytest.mark.parametrize("esp", PROVIDERS)
def test_a_webhook_with_the_wrong_credentials_is_refused_and_stores_nothing(client, make_sent, esp):
    send = make_sent(esp)
    webhook = PROVIDERS[esp]("bounced", message_id=MESSAGE_IDS[esp], address=ADDRESS, at=T0)
    assert webhook.post(client, auth="herald:guessed").status_code == 400
    assert not DeliveryEvent.objects.exists()
    send.refresh_from_db()
    assert send.status == Status.SENT


@pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailInsecureWebhookWarning")
def test_without_a_webhook_secret_no_event_is_taken_and_the_provider_is_asked_to_retry(settings, make_sent):
    settings.ANYMAIL = {}  # Anymail itself would only warn and take events from anyone
    send = make_sent("Postmark")
    webhook = postmark("bounced", message_id=MESSAGE_IDS["Postmark"], address=ADDRESS, at=T0)
    response = Client(raise_request_exception=False).post(
        webhook.path, webhook.body, content_type="application/json"
    )
    # 503 and Retry-After, as the Twilio callback answers: the provider keeps the event and posts it again.
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert b"Traceback" not in response.content
    assert not DeliveryEvent.objects.exists() and not Suppression.objects.exists()
    send.refresh_from_db()
    assert send.status == Status.SENT


def test_amazon_sns_without_credentials_is_asked_for_them(client, make_sent):
    # SNS only sends basic auth after a 401 challenge.
    webhook = amazon_ses("bounced", message_id=MESSAGE_IDS["Amazon SES"], address=ADDRESS, at=T0)
    response = client.post(webhook.path, webhook.body, content_type=webhook.content_type, **webhook.headers)
    assert response.status_code == 401
    assert not DeliveryEvent.objects.exists()


def test_one_amazon_notification_for_two_recipients_keeps_one_event_each(client, make_sent):
    # SES gives both recipients' events one SNS message id: the recipient is part of what makes them distinct.
    make_sent("Amazon SES")
    webhook = amazon_ses(
        "bounced",
        message_id=MESSAGE_IDS["Amazon SES"],
        address=ADDRESS,
        at=T0,
        also_bounced=("bob@example.com",),
    )
    webhook.post(client)
    webhook.post(client)
    assert sorted(DeliveryEvent.objects.values_list("address", flat=True)) == [
        "ada@example.com",
        "bob@example.com",
    ]


def test_an_event_that_overtakes_the_worker_is_linked_by_metadata_and_not_undone(client, make_sent):
    # The provider delivered and called back before the worker recorded its message id.
    send = make_sent("Postmark", status=Status.QUEUED, provider_message_id="", sent_at=None)
    token, _ = sends_claim(send_ids=[send.pk])
    metadata = {"herald_send": str(send.correlation_id)}
    postmark("delivered", message_id=MESSAGE_IDS["Postmark"], address=ADDRESS, at=T0, metadata=metadata).post(
        client
    )
    assert DeliveryEvent.objects.get().send_id == send.pk
    outcome_record(
        send=send,
        token=token,
        status=Status.SENT,
        provider_message_id=MESSAGE_IDS["Postmark"],
        sent_at=timezone.now(),
    )
    send.refresh_from_db()
    assert (send.status, send.provider_message_id, send.claim_token) == (
        Status.DELIVERED,
        MESSAGE_IDS["Postmark"],
        None,
    )


def test_replayed_out_of_order_webhooks_give_one_change_each_and_the_right_final_state(client, make_sent):
    """The fault case: every event of a send posted 50 times, all shuffled together."""
    send = make_sent("Mailgun")
    kinds = {"delivered": T0, "opened": T0 + 60, "bounced": T0 + 600}
    posts = [kind for kind in kinds for _ in range(50)]
    random.Random(7).shuffle(posts)
    for kind in posts:
        assert post(client, "Mailgun", kind, at=kinds[kind]).status_code == 200
    send.refresh_from_db()
    assert send.status == Status.BOUNCED
    assert sorted(send.events.values_list("event_type", flat=True)) == ["bounced", "delivered", "opened"]
    assert Suppression.objects.filter(org=send.org, address=ADDRESS).count() == 1
    # And a last replay of the bounce, after all that, changes nothing at all.
    before = send.updated_at
    post(client, "Mailgun", "bounced", at=kinds["bounced"])
    send.refresh_from_db()
    assert send.updated_at == before


def test_the_send_detail_shows_its_event_history_in_order(client, api, make_sent):
    send = make_sent("Postmark")
    post(client, "Postmark", "opened", at=T0 + 300)
    post(client, "Postmark", "delivered", at=T0)
    body = api.get(f"/api/v1/sends/{send.pk}/").json()
    assert body["status"] == "delivered"
    assert [(e["type"], e["esp_name"]) for e in body["events"]] == [
        ("delivered", "Postmark"),
        ("opened", "Postmark"),
    ]
    assert body["events"][0]["mta_response"] == "smtp;250 2.0.0 OK"
    assert body["events"][0]["occurred_at"].startswith("2024-05-01T10:00:00")


def test_the_send_list_loads_events_without_a_query_per_send(client, api, org, campaign):
    def list_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api.get("/api/v1/sends/").status_code == 200
        return len(queries)

    def make(n: int) -> None:
        for i in range(n):
            send = Send.objects.create(
                org=org,
                campaign=campaign,
                channel="email",
                to_address=f"p{i}@example.com",
                status=Status.SENT,
                provider_message_id=f"pm-{Send.objects.count()}",
            )
            postmark(
                "delivered", message_id=send.provider_message_id, address=send.to_address, at=T0 + i
            ).post(client)

    make(1)
    list_queries()  # the token's first use is recorded once; count from the second request
    one = list_queries()
    make(5)
    assert list_queries() == one
    assert DeliveryEvent.objects.filter(send__isnull=False).count() == 6


def test_the_database_itself_refuses_a_second_copy_of_an_event(make_sent):
    send = make_sent()
    fields = dict(send=send, org=send.org, esp_name="Postmark", event_type="delivered", dedupe_key="k" * 64)
    DeliveryEvent.objects.create(**fields)
    with pytest.raises(IntegrityError):
        DeliveryEvent.objects.create(**fields)


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_webhook_store_it_once(make_sent):
    # Providers retry on timeouts, so the same event can be in flight twice at once: a look-up before the
    # insert would let both through; the unique index lets one.
    send = make_sent("Postmark")
    webhook = postmark("bounced", message_id=MESSAGE_IDS["Postmark"], address=ADDRESS, at=T0)
    start = threading.Barrier(8)
    statuses = []

    def deliver() -> None:
        try:
            start.wait()
            statuses.append(webhook.post(Client()).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 8
    assert DeliveryEvent.objects.count() == 1
    assert Suppression.objects.count() == 1
    send.refresh_from_db()
    assert send.status == Status.BOUNCED


def test_the_admin_send_page_shows_its_event_history(client, admin_client, make_sent):
    send = make_sent("Postmark")
    post(client, "Postmark", "bounced")
    page = admin_client.get(f"/admin/sends/send/{send.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Delivery events" in html
    assert "smtp;550 5.1.1 The email account that you tried to reach does not exist." in html


def test_staff_find_the_events_no_send_claimed(client, admin_client, make_sent):
    make_sent("Postmark")
    post(client, "Postmark", "delivered")
    postmark("delivered", message_id="unknown-message", address="zed@example.com", at=T0).post(client)
    page = admin_client.get("/admin/sends/deliveryevent/", {"matched": "no"}).content.decode()
    assert "zed@example.com" in page and ADDRESS not in page
