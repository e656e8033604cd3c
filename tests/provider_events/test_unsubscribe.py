"""One-click unsubscribe: marketing mail carries a signed link; using it stops marketing mail, no other."""

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from dispatch.chunk import sends_dispatch
from outbound_webhooks.models import WebhookDelivery, WebhookEndpoint
from sends.models import DeliveryEvent, Send
from sends.unsubscribe import unsubscribe_token
from suppressions.models import Suppression
from suppressions.services import suppression_add
from tests.factories import CampaignFactory, MailingFactory, RecipientFactory

pytestmark = pytest.mark.django_db
Status = Send.Status
ADDRESS = "ann@example.com"


@pytest.fixture
def newsletter(org):
    mailing = MailingFactory(
        org=org, text="News for {{ recipient.first_name }}. Unsubscribe: {{ unsubscribe_url }}",
        html='<p>News</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>',
    )  # fmt: skip
    return CampaignFactory(org=org, key="newsletter", kind="marketing", email_mailing=mailing)


@pytest.fixture
def ann(org):
    return RecipientFactory(org=org, email=ADDRESS, first_name="Ann")


def make_send(campaign, recipient) -> Send:
    return Send.objects.create(
        org=campaign.org, campaign=campaign, mailing=campaign.email_mailing, recipient=recipient,
        channel="email", to_address=recipient.email, context={"order_number": 7}, queued_at=timezone.now(),
    )  # fmt: skip


def sent(campaign, recipient) -> Send:
    send = make_send(campaign, recipient)
    sends_dispatch(send_ids=[send.pk])
    send.refresh_from_db()
    return send


def link(send: Send) -> str:
    return f"/u/{unsubscribe_token(send)}"


def test_marketing_mail_carries_one_click_unsubscribe_headers_and_the_link(newsletter, ann, settings):
    settings.HERALD_PUBLIC_URL = "https://herald.example.com/"
    send = sent(newsletter, ann)
    [message] = mail.outbox
    url = f"https://herald.example.com/u/{unsubscribe_token(send)}"
    assert message.extra_headers["List-Unsubscribe"] == f"<{url}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.body == f"News for Ann. Unsubscribe: {url}"
    assert f'href="{url}"' in message.alternatives[0][0]
    assert url in send.text  # the send log keeps what was sent


def test_a_mailto_is_offered_beside_the_link_when_one_is_set(newsletter, ann, settings):
    settings.HERALD_UNSUBSCRIBE_MAILTO = "unsubscribe@shop.example.com"
    send = sent(newsletter, ann)
    [message] = mail.outbox
    token = unsubscribe_token(send)
    assert message.extra_headers["List-Unsubscribe"] == (
        f"<http://127.0.0.1:8000/u/{token}>, "
        f"<mailto:unsubscribe@shop.example.com?subject=unsubscribe%20{token}>"
    )


def test_transactional_mail_has_no_unsubscribe_header_and_an_empty_link(org, ann):
    mailing = MailingFactory(org=org, text="Order confirmed.[{{ unsubscribe_url }}]")
    receipt = CampaignFactory(org=org, email_mailing=mailing)
    assert receipt.kind == "transactional"  # the default
    sent(receipt, ann)
    [message] = mail.outbox
    assert "List-Unsubscribe" not in message.extra_headers
    assert "List-Unsubscribe-Post" not in message.extra_headers
    assert message.body == "Order confirmed.[]"


def test_a_get_shows_a_button_and_changes_nothing(client, newsletter, ann):
    send = sent(newsletter, ann)
    response = client.get(link(send))
    assert response.status_code == 200
    assert b'<form method="post">' in response.content
    assert client.head(link(send)).status_code == 200  # some scanners only look
    assert not Suppression.objects.exists()
    assert not DeliveryEvent.objects.exists()


def test_a_post_unsubscribes_at_once_without_cookies_or_csrf_token(newsletter, ann):
    send = sent(newsletter, ann)
    response = Client(enforce_csrf_checks=True).post(
        link(send), "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert b"You are unsubscribed" in response.content
    suppression = Suppression.objects.get(org=send.org)
    assert (suppression.address, suppression.reason, suppression.scope) == (
        ADDRESS,
        "unsubscribed",
        "marketing",
    )
    [event] = DeliveryEvent.objects.all()
    assert (event.send, event.event_type, event.esp_name) == (send, "unsubscribed", "Herald")
    assert suppression.source_event == event
    send.refresh_from_db()
    assert send.status == Status.SENT  # an unsubscribe is no outcome of the send


def test_an_unsubscribe_stops_marketing_mail_but_not_transactional_mail(client, org, newsletter, ann):
    client.post(link(sent(newsletter, ann)))
    receipt = CampaignFactory(org=org)
    next_newsletter, order_confirmation = make_send(newsletter, ann), make_send(receipt, ann)
    sends_dispatch(send_ids=[next_newsletter.pk, order_confirmation.pk])
    next_newsletter.refresh_from_db()
    order_confirmation.refresh_from_db()
    assert next_newsletter.status == Status.SUPPRESSED
    assert "unsubscribed" in next_newsletter.last_error
    assert order_confirmation.status == Status.SENT


def test_a_bounce_after_an_unsubscribe_stops_all_mail(client, org, newsletter, ann):
    client.post(link(sent(newsletter, ann)))
    suppression_add(org=org, address=ADDRESS, reason=Suppression.Reason.BOUNCED)
    suppression = Suppression.objects.get()
    assert (suppression.reason, suppression.scope) == ("bounced", "all")
    order_confirmation = make_send(CampaignFactory(org=org), ann)
    sends_dispatch(send_ids=[order_confirmation.pk])
    order_confirmation.refresh_from_db()
    assert order_confirmation.status == Status.SUPPRESSED


def test_an_unsubscribe_after_a_bounce_leaves_all_mail_stopped(client, org, newsletter, ann):
    send = sent(newsletter, ann)
    suppression_add(org=org, address=ADDRESS, reason=Suppression.Reason.BOUNCED)
    client.post(link(send))
    suppression = Suppression.objects.get()
    assert (suppression.reason, suppression.scope) == ("bounced", "all")


def test_the_unsubscribe_reaches_webhooks_once_however_often_the_link_is_used(client, org, newsletter, ann):
    endpoint = WebhookEndpoint.objects.create(org=org, url="https://hooks.example.com/herald")
    send = sent(newsletter, ann)
    WebhookDelivery.objects.all().delete()  # the `sent` notification
    for _ in range(3):
        assert client.post(link(send)).status_code == 200
    [delivery] = WebhookDelivery.objects.all()
    assert (delivery.endpoint, delivery.send, delivery.event) == (endpoint, send, "unsubscribed")
    assert delivery.payload["event"] == "unsubscribed"
    assert delivery.payload["send"]["status"] == "sent"  # the send's own status, unchanged
    assert delivery.payload["send"]["to_address"] == ADDRESS
    assert DeliveryEvent.objects.count() == 1 and Suppression.objects.count() == 1


def test_an_endpoint_that_asked_for_other_events_hears_nothing_of_an_unsubscribe(
    client, org, newsletter, ann
):
    WebhookEndpoint.objects.create(org=org, url="https://hooks.example.com/herald", events=["bounced"])
    client.post(link(sent(newsletter, ann)))
    assert not WebhookDelivery.objects.exists()


def test_webhooks_can_subscribe_to_unsubscribes_but_parcellab_endpoints_cannot(api):
    url = "https://hooks.example.com/herald"
    native = api.post("/api/v1/webhooks/", {"url": url, "events": ["unsubscribed"]}, format="json")
    assert native.status_code == 201
    parcellab = api.post(
        "/api/v1/webhooks/", {"url": url, "events": ["unsubscribed"], "format": "parcellab"}, format="json"
    )
    assert parcellab.status_code == 400
    assert parcellab.json()["error"]["problems"][0]["field"] == "events[0]"


@pytest.mark.parametrize(
    "token",
    ["nonsense", "0" * 32 + ".AAAA", "not-hex.signature"],
)
def test_a_token_herald_did_not_sign_is_a_clear_404_and_changes_nothing(client, token):
    for method in (client.get, client.post):
        response = method(f"/u/{token}")
        assert response.status_code == 404
        assert b"This unsubscribe link is not valid" in response.content
    assert not Suppression.objects.exists() and not DeliveryEvent.objects.exists()


def test_a_tampered_token_changes_nothing(client, newsletter, ann):
    send = sent(newsletter, ann)
    other = sent(newsletter, RecipientFactory(org=ann.org, email="bob@example.com"))
    _, signature = unsubscribe_token(send).split(".")
    forged = f"{other.correlation_id.hex}.{signature}"
    assert client.post(f"/u/{forged}").status_code == 404
    assert not Suppression.objects.exists()


def test_a_token_signed_with_another_key_is_refused(client, newsletter, ann, settings):
    send = sent(newsletter, ann)
    token = unsubscribe_token(send)
    settings.SECRET_KEY = "another-key-entirely-" + "x" * 40
    assert client.post(f"/u/{token}").status_code == 404
    assert not Suppression.objects.exists()


def test_other_methods_are_refused(client, newsletter, ann):
    assert client.put(link(sent(newsletter, ann))).status_code == 405


def test_a_marketing_campaign_is_created_over_the_api_and_a_bad_kind_is_refused(api):
    created = api.post(
        "/api/v1/campaigns/", {"key": "news", "name": "News", "kind": "marketing"}, format="json"
    )
    assert created.status_code == 201 and created.json()["kind"] == "marketing"
    plain = api.post("/api/v1/campaigns/", {"key": "receipt", "name": "Receipt"}, format="json")
    assert plain.json()["kind"] == "transactional"
    bad = api.post("/api/v1/campaigns/", {"key": "x", "name": "X", "kind": "promo"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["error"]["problems"][0]["field"] == "kind"


def test_a_dialect_trigger_of_a_marketing_campaign_carries_the_headers(
    api, org, newsletter, eager_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.put(
            f"/v1.0/mailing/trigger?orgid={org.pk}&mid={newsletter.pk}",
            [{"email": "cid@example.com", "firstName": "Cid", "lastName": "X"}],
            format="json",
        )
    assert response.status_code == 200, response.content
    [message] = mail.outbox
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_staff_record_an_unsubscribe_by_phone_as_a_marketing_suppression(api, org):
    response = api.post("/api/v1/suppressions/", {"address": ADDRESS, "scope": "marketing"}, format="json")
    assert response.status_code == 201
    assert (response.json()["reason"], response.json()["scope"]) == ("manual", "marketing")
    missing = api.post("/api/v1/suppressions/", {}, format="json")
    assert missing.status_code == 400
    assert missing.json()["error"]["problems"][0]["field"] == "address"
    assert Suppression.objects.count() == 1
