"""SMS through Twilio: twilio's own client builds each request (recorded, never sent over the network), and
Twilio's signed status callbacks move the send like an email provider's tracking events."""

from urllib.parse import urlencode

import pytest
from django.utils import timezone
from twilio.request_validator import RequestValidator

from core import metrics
from dispatch.chunk import sends_dispatch
from sends.models import DeliveryEvent, Send
from suppressions.models import Suppression
from tests.backends import TwilioRecorder, twilio_script
from tests.factories import CampaignFactory, RecipientFactory, SmsMailingFactory

pytestmark = pytest.mark.django_db
Status = Send.Status
SID, TOKEN = "AC" + "0" * 32, "twilio-auth-token"
CALLBACK = "https://herald.example.com/sms/twilio/status/"


@pytest.fixture(autouse=True)
def twilio(settings):
    settings.SMS_BACKEND = "tests.backends.RecordingTwilioBackend"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = SID, TOKEN
    settings.TWILIO_FROM = "+4915100000001"
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.TWILIO_STATUS_CALLBACK_URL = CALLBACK


@pytest.fixture
def sms_send(org):
    mailing = SmsMailingFactory(org=org)
    campaign = CampaignFactory(org=org, key="code", email_mailing=None, sms_mailing=mailing)
    recipient = RecipientFactory(org=org, phone="+4915112345678")
    return Send.objects.create(
        org=org, campaign=campaign, mailing=mailing, recipient=recipient, channel="sms",
        to_address=recipient.phone, context={"code": "4711"}, queued_at=timezone.now(),
    )  # fmt: skip


def dispatched(send: Send) -> Send:
    sends_dispatch(send_ids=[send.pk])
    send.refresh_from_db()
    return send


def test_an_sms_goes_to_twilios_messages_api_with_the_status_callback(sms_send):
    send = dispatched(sms_send)
    [request] = TwilioRecorder.requests
    assert request["method"] == "POST"
    assert request["uri"] == f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"
    assert request["auth"] == (SID, TOKEN)
    assert request["data"] == {
        "To": "+4915112345678", "Body": "Your code is 4711", "From": "+4915100000001",
        "StatusCallback": CALLBACK,
    }  # fmt: skip
    assert send.status == Status.SENT
    assert send.provider_message_id == "SM" + "0" * 31 + "1"


def test_a_messaging_service_sends_instead_of_a_from_number(sms_send, settings):
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "1" * 32
    dispatched(sms_send)
    [request] = TwilioRecorder.requests
    assert request["data"]["MessagingServiceSid"] == "MG" + "1" * 32
    assert "From" not in request["data"]


def test_a_number_twilio_refuses_fails_the_send_at_once_with_twilios_error(sms_send):
    twilio_script.append((400, {"code": 21211, "message": "The 'To' number is not a valid phone number."}))
    send = dispatched(sms_send)
    assert send.status == Status.FAILED
    assert send.last_error.startswith("provider answered 400: Twilio error 21211: ")
    assert send.last_error.endswith("The 'To' number is not a valid phone number.")


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_busy_or_failing_twilio_is_retried_later(sms_send, status):
    twilio_script.append((status, {"code": 20429, "message": "Too Many Requests"}))
    send = dispatched(sms_send)
    assert send.status == Status.SCHEDULED
    assert send.scheduled_at > timezone.now()
    assert f"provider answered {status}" in send.last_error


# --- the status callback ------------------------------------------------------------------------------


def post_status(client, params: dict, *, token: str = TOKEN, url: str = CALLBACK):
    signature = RequestValidator(token).compute_signature(url, params)
    return client.post(
        "/sms/twilio/status/", urlencode(params), content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )  # fmt: skip


def status_params(send: Send, status: str, **extra) -> dict:
    return {"MessageSid": send.provider_message_id, "MessageStatus": status, "To": send.to_address,
            "AccountSid": SID, **extra}  # fmt: skip


def test_a_delivered_callback_marks_the_send_delivered_and_is_recorded_once(client, sms_send):
    send = dispatched(sms_send)
    assert post_status(client, status_params(send, "delivered")).status_code == 204
    assert post_status(client, status_params(send, "delivered")).status_code == 204  # Twilio retried
    send.refresh_from_db()
    assert send.status == Status.DELIVERED
    [event] = DeliveryEvent.objects.all()
    assert (event.send, event.esp_name, event.event_type) == (send, "Twilio", "delivered")


def test_a_delivered_callback_is_counted_in_the_metrics_once(client, sms_send):
    metrics.reset()
    send = dispatched(sms_send)
    post_status(client, status_params(send, "delivered"))
    post_status(client, status_params(send, "delivered"))
    assert metrics._totals("herald_sends") == {"sms\x1fsent": 1, "sms\x1fdelivered": 1}
    metrics.reset()


def test_an_undelivered_sms_fails_the_send_and_keeps_twilios_error(client, sms_send):
    send = dispatched(sms_send)
    post_status(client, status_params(send, "undelivered", ErrorCode="30003", ErrorMessage="Unreachable"))
    send.refresh_from_db()
    assert send.status == Status.FAILED
    event = send.events.get()
    assert (event.description, event.mta_response) == ("Twilio error 30003", "Unreachable")
    assert not Suppression.objects.exists()  # a phone switched off today may be on tomorrow


def test_a_number_with_no_handset_is_suppressed_like_a_hard_bounce(client, sms_send):
    send = dispatched(sms_send)
    post_status(client, status_params(send, "undelivered", ErrorCode="30005"))
    send.refresh_from_db()
    assert send.status == Status.BOUNCED
    assert Suppression.objects.get().address == "+4915112345678"


def test_a_callback_with_a_bad_signature_is_refused_and_changes_nothing(client, sms_send):
    send = dispatched(sms_send)
    response = post_status(client, status_params(send, "delivered"), token="someone-elses-token")
    assert response.status_code == 403
    send.refresh_from_db()
    assert send.status == Status.SENT
    assert not DeliveryEvent.objects.exists()


def test_a_callback_without_a_signature_is_refused(client, sms_send):
    send = dispatched(sms_send)
    response = client.post("/sms/twilio/status/", status_params(send, "delivered"))
    assert response.status_code == 403


def test_without_an_auth_token_no_callback_is_taken(client, sms_send, settings):
    send = dispatched(sms_send)
    settings.TWILIO_AUTH_TOKEN = ""
    assert post_status(client, status_params(send, "delivered"), token="").status_code == 503
    assert not DeliveryEvent.objects.exists()


def test_without_a_callback_url_the_signature_is_checked_against_the_requests(client, sms_send, settings):
    send = dispatched(sms_send)
    settings.TWILIO_STATUS_CALLBACK_URL = ""
    params = status_params(send, "delivered")
    assert post_status(client, params, url="http://testserver/sms/twilio/status/").status_code == 204
    send.refresh_from_db()
    assert send.status == Status.DELIVERED


def test_a_callback_for_an_unknown_message_is_kept_without_a_send(client, db):
    params = {"MessageSid": "SMunknown", "MessageStatus": "delivered", "To": "+4915112345678"}
    assert post_status(client, params).status_code == 204
    event = DeliveryEvent.objects.get()
    assert event.send is None
    assert event.provider_message_id == "SMunknown"
