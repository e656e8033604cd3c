"""Test keys (as GOV.UK Notify has them): sends are rendered, recorded and shown, and reach no provider."""

import json

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from dispatch import sms
from dispatch.chunk import sends_dispatch
from orgs.models import ApiToken
from orgs.services import token_create
from sends.models import Send
from sends.services import sends_retrigger
from tests.factories import CampaignFactory, MailingFactory, SmsMailingFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/campaigns/order-completed/trigger/"
ORDER = {
    "recipients": [{"email": "ann@example.com", "first_name": "Ann"}],
    "context": {"order_number": "A-7"},
}


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def client_with(org, *, test: bool) -> APIClient:
    _, secret = token_create(org=org, name="key", test=test)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def trigger(client, body=ORDER, url=URL, capture=None):
    with capture(execute=True):
        response = client.post(url, body, format="json")
    assert response.status_code == 202, response.json()
    return response.json()


def test_a_test_keys_email_is_rendered_and_recorded_as_sent_but_reaches_no_provider(
    org, campaign, eager_tasks, capture
):
    body = trigger(client_with(org, test=True), capture=capture)
    assert body["sends"][0]["test"] is True
    assert mail.outbox == []
    send = Send.objects.get()
    assert send.status == Send.Status.SENT
    assert send.test is True
    assert send.subject == "Order A-7 confirmed"
    assert send.text == "Hello Ann, your order A-7 is confirmed."
    assert send.provider_message_id == f"test-{send.correlation_id}"


def test_a_test_keys_sms_reaches_no_sms_backend(org, eager_tasks, capture):
    CampaignFactory(org=org, key="code", email_mailing=None, sms_mailing=SmsMailingFactory(org=org))
    body = {"recipients": [{"phone": "+49 151 12345678"}], "context": {"code": "1234"}}
    trigger(client_with(org, test=True), body, "/api/v1/campaigns/code/trigger/", capture)
    assert sms.outbox == []
    send = Send.objects.get()
    assert (send.status, send.text, send.test) == (Send.Status.SENT, "Your code is 1234", True)


def test_a_live_keys_send_says_it_is_no_test_and_reaches_the_provider(org, campaign, eager_tasks, capture):
    body = trigger(client_with(org, test=False), capture=capture)
    assert body["sends"][0]["test"] is False
    assert len(mail.outbox) == 1
    assert Send.objects.get().test is False


def test_the_send_log_says_which_kind_of_key_made_each_send(org, campaign, capture):
    trigger(client_with(org, test=True), capture=capture)
    send = Send.objects.get()
    reader = client_with(org, test=False)
    assert reader.get(f"/api/v1/sends/{send.pk}/").json()["test"] is True


def test_a_retriggered_test_send_stays_a_test(org, campaign, capture):
    trigger(client_with(org, test=True), capture=capture)
    [again] = sends_retrigger(sends=Send.objects.all())
    sends_dispatch(send_ids=[again.pk])
    again.refresh_from_db()
    assert (again.test, again.status) == (True, Send.Status.SENT)
    assert mail.outbox == []


def test_a_dialect_call_with_a_test_key_reaches_no_provider(org, eager_tasks, capture):
    campaign = CampaignFactory(org=org, key="order", email_mailing=MailingFactory(org=org, html=""))
    client = client_with(org, test=True)
    url = f"/v1.0/mailing/trigger?orgid={org.pk}&mid={campaign.pk}"  # Message Central
    with capture(execute=True):
        body = {"email": "ann@example.com", "context": {"order_number": 1}}
        response = client.put(url, body, format="json")
    assert response.status_code == 200, response.content
    send = Send.objects.get()
    assert (send.test, send.status) == (True, Send.Status.SENT)
    assert mail.outbox == []


def test_create_org_makes_a_test_key_when_asked(capsys):
    call_command("create_org", "Acme", "--json", "--test")
    out = json.loads(capsys.readouterr().out)
    assert out["test"] is True
    assert ApiToken.objects.get(org_id=out["org_id"]).test is True


def test_create_org_makes_a_live_key_by_default(capsys):
    call_command("create_org", "Acme", "--json")
    out = json.loads(capsys.readouterr().out)
    assert out["test"] is False
    assert ApiToken.objects.get(org_id=out["org_id"]).test is False


def test_a_test_key_is_created_in_the_admin_and_says_so(admin_client, org):
    response = admin_client.post(
        reverse("admin:orgs_apitoken_add"),
        {"org": org.pk, "name": "staging", "scopes": ["send", "read"], "test": "on"},
        follow=True,
    )
    assert response.status_code == 200
    token = ApiToken.objects.get(name="staging")
    assert token.test is True
    assert "test token" in response.content.decode()


def test_a_keys_kind_cannot_be_changed_in_the_admin(admin_client, org):
    token, _ = token_create(org=org, name="staging", test=True)
    admin_client.post(reverse("admin:orgs_apitoken_change", args=[token.pk]), {"name": "renamed", "test": ""})
    token.refresh_from_db()
    assert (token.name, token.test) == ("renamed", True)
