"""An org's own Twilio account: its SMS go out on its credentials and sender (twilio's real client builds
each request; tests.backends.TwilioRecorder records it instead of sending it), and its status callbacks
are checked with its token and move only its org's sends."""

from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils import timezone
from twilio.request_validator import RequestValidator

from dispatch import accounts
from dispatch.chunk import sends_dispatch
from orgs.models import AuditEntry, Membership
from providers.services import provider_create
from sends.models import Send
from tests.backends import RecordingTwilioBackend, TwilioRecorder
from tests.factories import CampaignFactory, MembershipFactory, RecipientFactory, SmsMailingFactory

pytestmark = pytest.mark.django_db
ORG_SID, ORG_TOKEN = "AC" + "1" * 32, "the-orgs-own-token"
CALLBACK = "https://herald.example.com/sms/twilio/status/"


@pytest.fixture(autouse=True)
def twilio(settings, monkeypatch):
    monkeypatch.setattr(accounts, "TwilioSMSBackend", RecordingTwilioBackend)
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "0" * 32, "the-servers-token"
    settings.TWILIO_FROM, settings.TWILIO_MESSAGING_SERVICE_SID = "+4915100000001", ""
    settings.TWILIO_STATUS_CALLBACK_URL = CALLBACK
    TwilioRecorder.requests.clear()


@pytest.fixture
def provider(org):
    return provider_create(
        org=org, actor=None, kind="twilio", name="Our Twilio", options={"from_number": "+4915199999999"},
        credentials={"account_sid": ORG_SID, "auth_token": ORG_TOKEN},
    )  # fmt: skip


def sms_send(org) -> Send:
    mailing = SmsMailingFactory(org=org)
    campaign = CampaignFactory(org=org, email_mailing=None, sms_mailing=mailing)
    recipient = RecipientFactory(org=org, phone="+4915112345678")
    return Send.objects.create(
        org=org, campaign=campaign, mailing=mailing, recipient=recipient, channel="sms",
        to_address=recipient.phone, context={"code": "4711"}, queued_at=timezone.now(),
    )  # fmt: skip


def post_status(client, url: str, params: dict, token: str):
    signature = RequestValidator(token).compute_signature(url, params)
    return client.post(
        url.removeprefix("https://herald.example.com"), urlencode(params),
        content_type="application/x-www-form-urlencoded", HTTP_X_TWILIO_SIGNATURE=signature,
    )  # fmt: skip


def test_an_sms_goes_out_on_the_orgs_own_account_and_sender(org, provider):
    send = sms_send(org)
    sends_dispatch(send_ids=[send.pk])
    send.refresh_from_db()
    [request] = TwilioRecorder.requests
    assert request["uri"] == f"https://api.twilio.com/2010-04-01/Accounts/{ORG_SID}/Messages.json"
    assert request["auth"] == (ORG_SID, ORG_TOKEN)
    assert request["data"]["From"] == "+4915199999999"
    assert request["data"]["StatusCallback"] == f"{CALLBACK}?provider={provider.pk}"
    assert (send.status, send.provider) == (Send.Status.SENT, "Our Twilio")


def test_its_callbacks_are_checked_with_its_token_and_move_its_sends(client, org, provider):
    send = sms_send(org)
    sends_dispatch(send_ids=[send.pk])
    send.refresh_from_db()
    url = f"{CALLBACK}?provider={provider.pk}"
    params = {"MessageSid": send.provider_message_id, "MessageStatus": "delivered", "To": send.to_address}
    assert post_status(client, url, params, "the-servers-token").status_code == 403
    assert post_status(client, url, params, ORG_TOKEN).status_code == 204
    send.refresh_from_db()
    assert send.status == Send.Status.DELIVERED


def test_its_callbacks_cannot_move_another_orgs_send(client, org, other_org, provider, settings):
    theirs = sms_send(other_org)
    settings.SMS_BACKEND = "tests.backends.RecordingTwilioBackend"  # the other org sends on the server's
    sends_dispatch(send_ids=[theirs.pk])
    theirs.refresh_from_db()
    assert theirs.provider == ""
    url = f"{CALLBACK}?provider={provider.pk}"
    params = {"MessageSid": theirs.provider_message_id, "MessageStatus": "undelivered", "ErrorCode": "30005",
              "To": theirs.to_address}  # fmt: skip
    assert post_status(client, url, params, ORG_TOKEN).status_code == 204
    theirs.refresh_from_db()
    assert theirs.status == Send.Status.SENT, "an org's Twilio account moves only its own org's sends"


def test_a_callback_naming_no_such_provider_is_refused(client, org, provider):
    url = f"{CALLBACK}?provider=999999"
    assert (
        post_status(client, url, {"MessageSid": "SMx", "MessageStatus": "delivered"}, ORG_TOKEN).status_code
        == 403
    )


def test_an_admin_sends_a_test_sms_through_the_account_to_a_number_they_give(client, org, provider):
    user = MembershipFactory(org=org, role=Membership.Role.ADMIN).user
    client.force_login(user)
    changelist = reverse("admin:providers_provider_changelist")
    chosen = {"action": "send_test", "_selected_action": [provider.pk], "post": "yes"}
    refused = client.post(changelist, {**chosen, "phone": "12345"})
    assert "not a valid phone number" in str(refused.context["form"].errors["phone"])
    assert not TwilioRecorder.requests
    response = client.post(changelist, {**chosen, "phone": "+49 151 12345678"}, follow=True)
    shown = [str(m) for m in response.context["messages"]]
    assert any(m.startswith("Our Twilio took a test to +4915112345678: SM") for m in shown), shown
    [request] = TwilioRecorder.requests
    assert request["auth"] == (ORG_SID, ORG_TOKEN)
    assert (request["data"]["To"], request["data"]["From"]) == ("+4915112345678", "+4915199999999")
    assert AuditEntry.objects.filter(action="provider.tested", object_id=str(provider.pk)).count() == 1
