import email
from email import policy

import pytest
from rest_framework.test import APIClient

from orgs.services import org_create
from sends.models import Send
from tests.e2e.conftest import wait_for
from tests.factories import CampaignFactory, SmsMailingFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def client_and_campaign():
    org, secret = org_create(name="Shop")
    campaign = CampaignFactory(org=org, key="order-completed", sms_mailing=SmsMailingFactory(org=org))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client, campaign


def test_a_triggered_email_and_sms_reach_the_outbox_through_a_real_worker(worker, client_and_campaign):
    client, _ = client_and_campaign
    worker.start()
    response = client.post(
        "/api/v1/campaigns/order-completed/trigger/",
        {
            "recipients": [{"email": "ann@example.com", "phone": "+4915100000000", "first_name": "Ann"}],
            "context": {"order_number": "A-1001", "code": "7731"},
        },
        format="json",
    )
    assert response.status_code == 202
    wait_for(lambda: len(worker.messages()) == 2, what="an email and an SMS in the outbox", log=worker.log)
    eml = next(p for p in worker.messages() if p.suffix == ".eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["To"] == "ann@example.com"
    assert message["Subject"] == "Order A-1001 confirmed"
    assert "Hello Ann, your order A-1001 is confirmed." in message.get_body(("plain",)).get_content()
    assert "<b>A-1001</b>" in message.get_body(("html",)).get_content()
    sms_file = next(p for p in worker.messages() if p.suffix == ".json")
    assert "Your code is 7731" in sms_file.read_text()
    wait_for(
        lambda: set(Send.objects.values_list("status", flat=True)) == {"sent"},
        what="both sends recorded as sent",
        log=worker.log,
    )
    email_send = Send.objects.get(channel="email")
    assert email_send.provider_message_id == message["Message-ID"]


def test_a_delayed_trigger_is_sent_by_the_periodic_sweep(worker, client_and_campaign):
    client, _ = client_and_campaign
    worker.start()
    response = client.post(
        "/api/v1/campaigns/order-completed/trigger/",
        {"recipients": [{"email": "bo@example.com"}], "context": {"order_number": 7}, "delay": 2},
        format="json",
    )
    assert response.json()["sends"][0]["status"] == "scheduled"
    send = Send.objects.get()
    wait_for(lambda: Send.objects.get(pk=send.pk).status == "sent", what="the scheduled send", log=worker.log)
    assert Send.objects.get(pk=send.pk).sent_at >= send.scheduled_at


def test_a_trigger_accepted_while_no_worker_runs_is_sent_when_one_starts(worker, client_and_campaign):
    client, _ = client_and_campaign
    response = client.post(
        "/api/v1/campaigns/order-completed/trigger/",
        {"recipients": [{"email": f"r{i}@example.com"} for i in range(250)], "context": {"order_number": 1}},
        format="json",
    )
    assert response.status_code == 202
    assert Send.objects.filter(status="queued").count() == 250
    worker.start()
    wait_for(
        lambda: Send.objects.filter(status="sent").count() == 250,
        timeout=60,
        what="250 sends",
        log=worker.log,
    )
    assert len(worker.messages()) == 250
