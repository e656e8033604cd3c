import json
import uuid

import pytest
from django.core import mail
from rest_framework.test import APIClient

from recipients.models import Recipient
from sends.models import Send, Trigger
from tests.dialects.conftest import token_with_secret, with_pk
from tests.factories import CampaignFactory, MailingFactory, OrgFactory, RecipientFactory, SmsMailingFactory

pytestmark = pytest.mark.django_db

# The vendor's examples, as its document prints them (003_…): the body after --data-raw, the headers.
TRIGGER_EXAMPLE = """{
    "to": [
        { "address": "abc@parcellab.com", "name": "Customer Name" },
        { "address": "xyz@parcellab.com" }
    ],
    "client": "parcelFashion",
    "locale": "en",
    "channel": "Mail",
    "message": "WarehouseNotification",
    "placeholders": [
    ],
    "delay": 60,
    "correlationId": "5ee80bba-7bb9-4427-a32f-5b374e39a1de"
}"""
RETRIGGER_EXAMPLE = """{
    "channel": "Mail",
    "id": "50ae00000000000000000001"
}"""
HEADERS = {"user": "1612197", "token": "token-with-write-scope"}


@pytest.fixture
def account(db):
    return with_pk(OrgFactory, 1612197)


@pytest.fixture
def token(account):
    return token_with_secret(account, "token-with-write-scope")


@pytest.fixture
def message(account):
    mailing = MailingFactory(
        org=account,
        subject="Your parcel {{ context.tracking }}",
        text="{{ recipient.first_name }}: {{ context.tracking }} in {{ context.days }} days"
        "{% if context.signature %}, signature needed{% endif %}.",
        html="",
        translations={"de": {"text": "{{ context.tracking }} kommt in {{ context.days }} Tagen."}},
    )
    return CampaignFactory(org=account, key="WarehouseNotification", email_mailing=mailing)


def post(body: str | dict, path: str = "/v2/trigger-message", headers: dict | None = None):
    client = APIClient()
    headers = HEADERS if headers is None else headers
    if isinstance(body, str):
        return client.post(path, body, content_type="application/json", headers=headers)
    return client.post(path, body, format="json", headers=headers)


def retrigger(body: str | dict, headers: dict | None = None):
    client = APIClient()
    headers = HEADERS if headers is None else headers
    if isinstance(body, str):
        return client.put("/v2/re-trigger-message", body, content_type="application/json", headers=headers)
    return client.put("/v2/re-trigger-message", body, format="json", headers=headers)


def simple(**fields) -> dict:
    return {
        "to": [{"address": "ann@example.com"}],
        "channel": "email",
        "message": "WarehouseNotification",
        **fields,
    }


def test_the_documented_example_is_accepted_with_its_correlation_id(token, message):
    response = post(TRIGGER_EXAMPLE, path="/v2/trigger")
    assert response.status_code == 202
    body = response.json()
    assert body["correlationId"] == "5ee80bba-7bb9-4427-a32f-5b374e39a1de"
    sends = Send.objects.order_by("pk")
    assert [m["id"] for m in body["messages"]] == [str(s.pk) for s in sends]
    assert [(s.channel, s.to_address, s.status) for s in sends] == [
        ("email", "abc@parcellab.com", "scheduled"),
        ("email", "xyz@parcellab.com", "scheduled"),
    ]
    assert 55 < (sends[0].scheduled_at - sends[0].created_at).total_seconds() <= 60
    assert sends[0].metadata == {"client": "parcelFashion"}
    named = Recipient.objects.get(email="abc@parcellab.com")
    assert (named.first_name, named.last_name) == ("Customer", "Name")
    assert Trigger.objects.get().source == "parcellab"


def test_the_example_again_on_trigger_message_is_answered_again_not_sent_twice(token, message):
    first = post(TRIGGER_EXAMPLE, path="/v2/trigger")
    again = post(TRIGGER_EXAMPLE, path="/v2/trigger-message")
    assert again.status_code == 202
    assert again.json() == first.json()
    assert Send.objects.count() == 2


def test_a_correlation_id_is_generated_when_none_is_given(token, message):
    response = post(simple())
    correlation_id = response.json()["correlationId"]
    assert uuid.UUID(correlation_id).version == 4
    assert Trigger.objects.get().reference == correlation_id


def test_placeholders_reach_the_template_by_name_and_the_message_is_sent(
    token, message, eager_tasks, django_capture_on_commit_callbacks
):
    placeholders = [
        {"name": "tracking", "value": "PL-123"},
        {"name": "days", "value": 2},
        {"name": "signature", "value": True},
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = post(simple(to=[{"address": "ann@example.com", "name": "Ann"}], placeholders=placeholders))
    assert response.status_code == 202
    [sent] = mail.outbox
    assert sent.subject == "Your parcel PL-123"
    assert sent.body == "Ann: PL-123 in 2 days, signature needed."


def test_a_java_locale_picks_the_translation(token, message, eager_tasks, django_capture_on_commit_callbacks):
    placeholders = [{"name": "tracking", "value": "PL-1"}, {"name": "days", "value": 3}]
    with django_capture_on_commit_callbacks(execute=True):
        post(simple(locale="de_DE", placeholders=placeholders))
    assert Send.objects.get().locale == "de-DE"
    assert mail.outbox[0].body == "PL-1 kommt in 3 Tagen."


def test_the_sms_channel_takes_phone_numbers(token, message, account):
    message.sms_mailing = SmsMailingFactory(org=account)
    message.save()
    response = post(simple(to=[{"address": "+49 151 1111 2222"}], channel="SMS"))
    assert response.status_code == 202
    assert [(s.channel, s.to_address) for s in Send.objects.all()] == [("sms", "+4915111112222")]


def test_a_bad_payload_is_400_listing_every_problem(token, message):
    response = post(
        {
            "to": [{"address": "fine@example.com"}, {"address": 7}],
            "channel": "pigeon",
            "placeholders": [{"name": "x", "value": {"nested": True}}],
            "delay": -5,
            "extra": 1,
        }
    )
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"body", "to[1].address", "channel", "placeholders[0].value", "delay"}
    assert any("'message' is a required property" in e["message"] for e in body["errors"])
    assert not Send.objects.exists()


def test_an_unknown_message_or_an_invalid_address_is_400(token, message):
    response = post(simple(message="NoSuchMessage"))
    assert (response.status_code, response.json()["errors"]) == (
        400,
        [{"field": "message", "message": "No message 'NoSuchMessage'."}],
    )
    response = post(simple(to=[{"address": "ok@example.com"}, {"address": "not-an-address"}]))
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "to[1].address"
    assert not Send.objects.exists()


def test_a_correlation_id_reused_for_another_payload_is_400(token, message):
    post(simple(correlationId="order-1"))
    response = post(simple(correlationId="order-1", to=[{"address": "bob@example.com"}]))
    assert response.status_code == 400
    assert "different body" in response.json()["errors"][0]["message"]
    assert Send.objects.count() == 1


def test_a_paused_message_is_a_payload_the_vendor_answers_400(token, message):
    message.status = "paused"
    message.save()
    response = post(simple())
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "message"
    assert not Send.objects.exists()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"user": "1612197"},
        {"user": "1612197", "token": "wrong"},
        {"user": "1", "token": "token-with-write-scope"},
        {"user": "abc", "token": "token-with-write-scope"},
    ],
)
def test_missing_or_bad_credentials_are_403(token, message, headers):
    response = post(TRIGGER_EXAMPLE, headers=headers)
    assert response.status_code == 403
    assert response.json()["success"] is False
    assert not Send.objects.exists()


def test_a_token_without_the_send_scope_is_403(account, message):
    token_with_secret(account, "read-only", scopes=["read"])
    response = post(TRIGGER_EXAMPLE, headers={"user": "1612197", "token": "read-only"})
    assert response.status_code == 403


def test_another_orgs_token_reaches_nothing_of_this_org(token, message):
    stranger = OrgFactory(name="Stranger")
    token_with_secret(stranger, "stranger-token")
    # Its own org id in `user`: this account's message is not one of its messages.
    response = post(TRIGGER_EXAMPLE, headers={"user": str(stranger.pk), "token": "stranger-token"})
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "message", "message": "No message 'WarehouseNotification'."}
    ]
    assert not Send.objects.exists()


def test_an_unexpected_failure_is_a_500_with_a_reference(token, message, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr("dialects.common.trigger_accept", broken)
    response = post(simple())
    assert response.status_code == 500
    body = response.json()
    assert body["success"] is False
    assert uuid.UUID(body["reference"])
    assert "fire" not in body["message"]


# Re-trigger


def test_the_documented_retrigger_example_names_no_herald_message_and_is_400(token, message):
    response = retrigger(RETRIGGER_EXAMPLE)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "id"


@pytest.mark.parametrize("by", ["id", "uuid"])
def test_a_sent_message_is_retriggered_to_the_recipients_current_address(token, message, account, by):
    post(simple())
    old = Send.objects.get()
    Recipient.objects.filter(pk=old.recipient_id).update(email="ann@new.example.com")
    send_id = str(old.pk) if by == "id" else str(old.correlation_id)
    response = retrigger({"channel": "Mail", "id": send_id})
    assert response.status_code == 202
    new = Send.objects.get(pk=int(response.json()["id"]))
    assert (new.retriggered_from, new.to_address, new.status) == (old, "ann@new.example.com", "queued")


@pytest.mark.parametrize(
    "body",
    [{"id": "1"}, {"channel": "Mail"}, {"channel": "pigeon", "id": "1"}, {"channel": "Mail", "id": ""}],
)
def test_a_retrigger_without_a_valid_channel_and_id_is_400(token, message, body):
    response = retrigger(body)
    assert response.status_code == 400


def test_an_unknown_channel_and_id_pair_is_404(token, message):
    post(simple())
    send = Send.objects.get()
    assert retrigger({"channel": "SMS", "id": str(send.pk)}).status_code == 404
    assert retrigger({"channel": "email", "id": str(send.pk + 1000)}).status_code == 404
    assert Send.objects.count() == 1


def test_another_orgs_send_is_not_found(token, message):
    stranger = OrgFactory(name="Stranger")
    theirs = Send.objects.create(
        org=stranger, recipient=RecipientFactory(org=stranger), channel="email", to_address="x@example.com"
    )
    response = retrigger({"channel": "email", "id": str(theirs.pk)})
    assert response.status_code == 404
    assert Send.objects.count() == 1


def test_retrigger_credentials_that_are_not_correct_are_401(token, message):
    response = retrigger({"channel": "email", "id": "1"}, headers={"user": "1612197", "token": "nope"})
    assert response.status_code == 401
    assert response.json()["success"] is False


def test_a_line_break_in_a_name_is_refused_as_that_recipients_name(token, message):
    response = post(simple(to=[{"address": "ann@example.com", "name": "Ann\r\nBcc: all@example.com"}]))
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "to[0].name", "message": "Must not contain line breaks."}]


def test_a_user_or_message_id_in_digits_other_than_ascii_is_refused_not_a_500(token, message):
    # "²".isdigit() is true, and int("²") fails: such an id once made a 500.
    response = post(simple(), headers={**HEADERS, "user": "²"})
    assert response.status_code == 403
    response = retrigger({"channel": "email", "id": "²"})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["id"]


@pytest.mark.parametrize("send", [post, retrigger])
def test_a_body_over_the_size_limit_is_413_in_parcellabs_shape(token, message, settings, send):
    settings.HERALD_MAX_REQUEST_BYTES = 20
    body = json.dumps(simple())
    response = send(body)
    assert response.status_code == 413
    text = f"The request body is {len(body)} bytes; at most 20 are accepted."
    assert response.json() == {
        "success": False,
        "message": text,
        "errors": [{"field": "body", "message": text}],
    }
    assert not Send.objects.exists()


# Paths: the vendor documents them in lower case and says nothing of other cases, so they are matched as
# documented (docs/dialects.md, "Paths"); a client that lowercases paths reaches them all the same.


@pytest.mark.parametrize(
    "path", ["/v2/trigger-message", "/v2/trigger-message".lower(), "/v2/trigger", "/v2/trigger".lower()]
)
def test_the_documented_trigger_paths_are_answered_as_documented_and_lowercased(token, message, path):
    assert post(TRIGGER_EXAMPLE, path=path).status_code == 202


@pytest.mark.parametrize("path", ["/v2/re-trigger-message", "/v2/re-trigger-message".lower()])
def test_the_documented_retrigger_path_is_answered_as_documented_and_lowercased(token, message, path):
    sent = post(simple()).json()["messages"][0]["id"]
    response = APIClient().put(path, {"channel": "email", "id": sent}, format="json", headers=HEADERS)
    assert response.status_code == 202


def test_a_path_in_another_case_is_no_route(token, message):
    assert post(TRIGGER_EXAMPLE, path="/V2/Trigger-Message").status_code == 404
    assert not Send.objects.exists()
