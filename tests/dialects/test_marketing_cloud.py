import json
import time
import uuid
from urllib.parse import urlencode

import pytest
from anymail.exceptions import AnymailRecipientsRefused
from django.core import mail
from rest_framework.test import APIClient

from orgs.services import token_create, token_revoke
from recipients.models import Recipient
from sends.models import Send, Trigger
from suppressions.services import suppression_add
from tests import backends
from tests.factories import CampaignFactory, MailingFactory, OrgFactory

pytestmark = pytest.mark.django_db

DEFINITION_ID = "dfa5ab87-1b0f-e211-b71b-9c8e9920e9fc"
BY_ID = f"/messaging/v1/messageDefinitionSends/{DEFINITION_ID}/send"
BY_KEY = "/messaging/v1/messageDefinitionSends/key:external_key/send"
SYNC_BY_KEY = "/messaging/v1/messageDefinitionSends/key:cust_key/send"

# The bodies of the vendor's four examples (004_…), as printed: two ASYNC, two SYNC, otherwise the same.
ASYNC_EXAMPLE = """{
    "From": {
        "Address": "code@exacttarget.com",
        "Name": "Code@"
    },
    "To": {
        "Address": "example@example.com",
        "SubscriberKey": "example@example.com",
        "ContactAttributes": {
            "SubscriberAttributes": {
                "Region": "West",
                "City": "Indianapolis",
                "State": "IN"
            }
        }
    },
    "Options": {
        "RequestType": "ASYNC"
    }
}"""
SYNC_EXAMPLE = """{
    "From": {
        "Address": "code@exacttarget.com",
        "Name": "Code@"
    },
    "To": {
        "Address": "example@example.com",
        "SubscriberKey": "example@example.com",
        "ContactAttributes": {
            "SubscriberAttributes": {
                "Region": "West",
                "City": "Indianapolis",
                "State": "IN"
            }
        }
    },
    "Options": {
        "RequestType": "SYNC"
    }
}"""


@pytest.fixture
def definition(org):
    mailing = MailingFactory(
        org=org,
        subject="Weather in {{ context.City }}",
        text="Hi {{ recipient.external_id }}, {{ context.City }}, {{ context.State }} "
        "({{ context.Region }}).",
        html="",
    )
    CampaignFactory(org=org, key="cust_key", email_mailing=mailing)
    return CampaignFactory(
        org=org, key="external_key", email_mailing=mailing, object_id=uuid.UUID(DEFINITION_ID)
    )


@pytest.fixture
def secret(org) -> str:
    return token_create(org=org, name="marketing cloud")[1]


def access_token(org_id: int, secret: str) -> str:
    response = APIClient().post(
        "/v2/token",
        {"grant_type": "client_credentials", "client_id": str(org_id), "client_secret": secret},
        format="json",
    )
    assert response.status_code == 200, response.json()
    return response.json()["access_token"]


@pytest.fixture
def client(org, secret) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(org.pk, secret)}")
    return client


def send(client: APIClient, path: str, body: str | dict):
    if isinstance(body, str):
        return client.post(path, body, content_type="application/json")
    return client.post(path, body, format="json")


# Authentication


def test_the_token_endpoint_answers_as_marketing_cloud_does(org, secret):
    response = APIClient().post(
        "/v2/token",
        {
            "grant_type": "client_credentials",
            "client_id": str(org.pk),
            "client_secret": secret,
            "account_id": "7",
        },
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "access_token", "token_type", "expires_in", "scope", "soap_instance_url", "rest_instance_url",
    }  # fmt: skip
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 1080)
    assert body["rest_instance_url"] == "http://testserver/"


def test_the_token_endpoint_takes_a_form_too(org, secret):
    form = urlencode({"grant_type": "client_credentials", "client_id": org.pk, "client_secret": secret})
    response = APIClient().post("/v2/token", form, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert response.json()["access_token"]


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"client_secret": None}, 400, "invalid_request"),
        ({"client_secret": "hrld_wrong"}, 401, "invalid_client"),
        ({"client_id": "999999"}, 401, "invalid_client"),
    ],
)
def test_bad_client_credentials_are_oauth_errors(org, secret, fields, status, error):
    body = {"grant_type": "client_credentials", "client_id": str(org.pk), "client_secret": secret, **fields}
    response = APIClient().post("/v2/token", {k: v for k, v in body.items() if v is not None}, format="json")
    assert response.status_code == status
    assert response.json()["error"] == error


def test_no_or_a_bad_access_token_is_not_authorized(definition):
    for authorization in (None, "Bearer nonsense", "Basic abc"):
        client = APIClient()
        if authorization:
            client.credentials(HTTP_AUTHORIZATION=authorization)
        response = send(client, BY_ID, ASYNC_EXAMPLE)
        assert response.status_code == 401
        assert response.json() == {"message": "Not Authorized", "errorcode": 0, "documentation": ""}
    assert not Send.objects.exists()


def test_an_access_token_expires(definition, org, secret, monkeypatch):
    issued_long_ago = time.time() - 1081
    monkeypatch.setattr("django.core.signing.time.time", lambda: issued_long_ago)
    token = access_token(org.pk, secret)
    monkeypatch.undo()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert send(client, BY_ID, ASYNC_EXAMPLE).status_code == 401


def test_revoking_the_api_token_revokes_its_access_tokens(client, definition, org):
    for api_token in org.tokens.all():
        token_revoke(token=api_token)
    assert send(client, BY_ID, ASYNC_EXAMPLE).status_code == 401


def test_access_tokens_and_api_tokens_each_work_only_where_they_belong(client, definition, org, secret):
    assert client.get("/api/v1/campaigns/").status_code == 401
    raw = APIClient()
    raw.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert send(raw, BY_ID, ASYNC_EXAMPLE).status_code == 401


def test_a_token_without_the_send_scope_may_not_send(definition, org):
    _, secret = token_create(org=org, name="reader", scopes=["read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(org.pk, secret)}")
    response = send(client, BY_ID, ASYNC_EXAMPLE)
    assert response.status_code == 403
    assert response.json()["errorcode"] == 0


# Sends


@pytest.mark.parametrize("path", [BY_ID, BY_KEY], ids=["by-id", "by-key"])
def test_the_documented_async_examples_are_queued(client, definition, path):
    response = send(client, path, ASYNC_EXAMPLE)
    assert response.status_code == 202
    body = response.json()
    row = Send.objects.get()
    assert body == {
        "requestId": body["requestId"],
        "responses": [
            {"recipientSendId": str(row.correlation_id), "hasErrors": False, "messages": ["Queued"]}
        ],
    }
    assert uuid.UUID(body["requestId"]) and Trigger.objects.get().reference == body["requestId"]
    assert (row.to_address, row.from_email, row.campaign) == (
        "example@example.com",
        '"Code@" <code@exacttarget.com>',
        definition,
    )
    assert row.context == {"Region": "West", "City": "Indianapolis", "State": "IN"}
    assert Recipient.objects.get().external_id == "example@example.com"
    assert not mail.outbox


@pytest.mark.parametrize("path", [BY_ID, SYNC_BY_KEY], ids=["by-id", "by-key"])
def test_the_documented_sync_examples_answer_after_the_message_is_sent(client, definition, path):
    response = send(client, path, SYNC_EXAMPLE)
    assert response.status_code == 202
    row = Send.objects.get()
    assert response.json()["responses"] == [
        {"recipientSendId": str(row.correlation_id), "hasErrors": False, "messages": ["Sent"]}
    ]
    [message] = mail.outbox
    assert message.from_email == '"Code@" <code@exacttarget.com>'
    assert message.subject == "Weather in Indianapolis"
    assert message.body == "Hi example@example.com, Indianapolis, IN (West)."


def test_an_async_send_is_dispatched_with_the_callers_data(
    client, definition, eager_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        send(client, BY_KEY, ASYNC_EXAMPLE)
    assert mail.outbox[0].body == "Hi example@example.com, Indianapolis, IN (West)."
    assert Send.objects.get().status == "sent"


def test_a_sync_send_the_provider_refuses_answers_its_message_errors(client, definition):
    backends.script.append(AnymailRecipientsRefused("refused"))
    response = send(client, BY_ID, SYNC_EXAMPLE)
    assert response.status_code == 202
    [answer] = response.json()["responses"]
    assert answer["hasErrors"] is True
    [error] = answer["messageErrors"]
    assert error["messageErrorCode"] == 180010
    assert error["messageErrorStatus"].startswith("Not sent: AnymailRecipientsRefused")


def test_a_sync_send_to_a_suppressed_address_has_no_valid_subscribers(client, definition, org):
    suppression_add(org=org, address="example@example.com", reason="bounced")
    response = send(client, BY_ID, SYNC_EXAMPLE)
    assert response.json()["responses"][0]["messageErrors"] == [
        {
            "messageErrorCode": 180008,
            "messageErrorStatus": "Unable to queue Triggered Send request. There are no valid subscribers.",
        }
    ]
    assert not mail.outbox


@pytest.mark.parametrize(
    "to",
    [
        None,
        {"SubscriberKey": "example@example.com"},
        {"Address": "", "SubscriberKey": "k"},
        {"Address": "not-an-address", "SubscriberKey": "k"},
    ],
)
def test_a_missing_or_invalid_address_answers_exactly_as_documented(client, definition, to):
    body = {"Options": {"RequestType": "ASYNC"}} | ({"To": to} if to is not None else {})
    response = send(client, BY_ID, body)
    assert response.status_code == 202
    assert response.json() == {
        "recipientSendId": "",
        "hasErrors": True,
        "messages": ["InvalidOrMissingToAddress"],
    }
    assert not Send.objects.exists()


def test_property_names_are_read_in_any_case(client, definition):
    response = send(client, BY_KEY, {"to": {"address": "lower@example.com", "subscriberKey": "k-1"}})
    assert response.status_code == 202
    assert Send.objects.get().to_address == "lower@example.com"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"To": {"Address": "a@example.com"}, "Options": {"RequestType": "LATER"}}, "Options.RequestType"),
        ({"To": {"Address": "a@example.com"}, "From": {"Address": "nobody"}}, "From.Address"),
        (
            {"To": {"Address": "a@example.com"}, "From": {"Address": "a@b.co", "Name": "x\r\nBcc: y"}},
            "From.Name",
        ),
        ({"To": {"Address": "a@example.com", "SubscriberKey": 5}}, "To.SubscriberKey"),
        (
            {"To": {"Address": "a@example.com", "ContactAttributes": {"SubscriberAttributes": []}}},
            "To.ContactAttributes.SubscriberAttributes",
        ),
    ],
)
def test_a_bad_request_is_400_with_its_validation_errors(client, definition, body, path):
    response = send(client, BY_ID, body)
    assert response.status_code == 400
    assert response.json()["errorcode"] == 10000
    assert [e["path"] for e in response.json()["validationErrors"]] == [path]
    assert not Send.objects.exists()


def test_attributes_that_break_the_mailings_schema_are_named_by_their_path(client, definition):
    definition.email_mailing.context_schema = {"type": "object", "required": ["OrderId"]}
    definition.email_mailing.save()
    response = send(client, BY_ID, ASYNC_EXAMPLE)
    assert response.status_code == 400
    assert response.json()["validationErrors"][0]["path"] == "To.ContactAttributes.SubscriberAttributes"


@pytest.mark.parametrize(
    "definition_ref", ["key:no_such_key", str(uuid.uuid4()), "not-a-guid", "key:bad%00key"]
)
def test_an_unknown_definition_is_404(client, definition, definition_ref):
    response = send(client, f"/messaging/v1/messageDefinitionSends/{definition_ref}/send", ASYNC_EXAMPLE)
    assert response.status_code == 404
    assert response.json()["errorcode"] == 10004


def test_another_orgs_token_reaches_nothing_of_this_org(definition):
    stranger = OrgFactory(name="Stranger")
    CampaignFactory(org=stranger, key="their_key")
    _, their_secret = token_create(org=stranger, name="theirs")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(stranger.pk, their_secret)}")
    assert send(client, BY_ID, ASYNC_EXAMPLE).status_code == 404
    assert send(client, BY_KEY, ASYNC_EXAMPLE).status_code == 404
    assert not Send.objects.exists()


def test_the_same_idempotency_key_answers_the_first_answer_again(client, definition):
    first = client.post(BY_ID, ASYNC_EXAMPLE, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1")
    again = client.post(BY_ID, ASYNC_EXAMPLE, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.json() == again.json()
    assert Send.objects.count() == 1


# Paths in any case: Marketing Cloud's servers fold case, and its Node client (fuel-rest) lowercases them.


@pytest.mark.parametrize("token_path", ["/v2/token", "/V2/Token"], ids=["documented", "other-case"])
@pytest.mark.parametrize(
    ("path", "definition_ref"),
    [
        (BY_ID, DEFINITION_ID),
        (BY_ID.lower(), DEFINITION_ID),
        (BY_KEY, "key:external_key"),
        (BY_KEY.lower(), "key:external_key"),
        ("/MESSAGING/V1/MESSAGEDEFINITIONSENDS/KEY:external_key/SEND", "KEY:external_key"),
        (f"/messaging/v1/messagedefinitionsends/id:{DEFINITION_ID.upper()}/send", DEFINITION_ID.upper()),
    ],
    ids=["by-id", "by-id-lowercased", "by-key", "by-key-lowercased", "upper-case", "id-upper-case"],
)
def test_every_path_is_answered_in_any_case(definition, org, secret, token_path, path, definition_ref):
    response = APIClient().post(
        token_path,
        {"grant_type": "client_credentials", "client_id": str(org.pk), "client_secret": secret},
        format="json",
    )
    assert response.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access_token']}")
    sent = send(client, path, ASYNC_EXAMPLE)
    assert sent.status_code == 202
    assert Send.objects.get().campaign == definition
    recipient_send_id = sent.json()["responses"][0]["recipientSendId"]
    for records in ("deliveryRecords", "deliveryrecords", "DELIVERYRECORDS"):
        for base in ("/messaging/v1/messageDefinitionSends", "/messaging/v1/messagedefinitionsends"):
            record = client.get(f"{base}/{definition_ref}/{records}/{recipient_send_id}")
            assert record.status_code == 200, (base, records)
            assert record.json()["id"] == recipient_send_id


def test_only_the_fixed_segments_are_read_in_any_case(client, definition):
    # The external key is the caller's, matched as given: another case is another key.
    response = send(client, "/messaging/v1/messagedefinitionsends/key:EXTERNAL_KEY/send", ASYNC_EXAMPLE)
    assert response.status_code == 404
    assert response.json()["message"] == "No triggered send definition 'key:EXTERNAL_KEY'."
    recipient_send_id = send(client, BY_KEY.lower(), ASYNC_EXAMPLE).json()["responses"][0]["recipientSendId"]
    # A recipientSendId is a GUID: read in any case, as a GUID is.
    url = f"/messaging/v1/messagedefinitionsends/key:external_key/deliveryrecords/{recipient_send_id.upper()}"
    assert client.get(url).status_code == 200


# Delivery records


def test_a_sent_messages_delivery_record_by_key_and_by_id(client, definition):
    response = send(client, BY_ID, SYNC_EXAMPLE)
    recipient_send_id = response.json()["responses"][0]["recipientSendId"]
    row = Send.objects.get()
    for ref in ("key:external_key", DEFINITION_ID, f"id:{DEFINITION_ID}"):
        record = client.get(f"/messaging/v1/messageDefinitionSends/{ref}/deliveryRecords/{recipient_send_id}")
        assert record.status_code == 200
        body = record.json()
        assert body["status"] == "Sent"
        assert body["messageId"] == recipient_send_id
        assert body["to"] == {
            "address": "example@example.com",
            "id": row.recipient_id,
            "key": "example@example.com",
        }
        assert body["deliveryTime"].startswith(row.sent_at.strftime("%Y-%m-%dT%H:%M:%S"))


def test_a_queued_and_a_failed_message_each_say_so(client, definition):
    queued = send(client, BY_ID, ASYNC_EXAMPLE).json()["responses"][0]["recipientSendId"]
    url = f"/messaging/v1/messageDefinitionSends/key:external_key/deliveryRecords/{queued}"
    assert client.get(url).json()["status"] == "Queued"
    assert client.get(url).json()["deliveryTime"] is None
    backends.script.append(AnymailRecipientsRefused("refused"))
    body = SYNC_EXAMPLE.replace("example@example.com", "other@example.com")
    failed = send(client, BY_ID, body).json()["responses"][0]["recipientSendId"]
    record = client.get(
        f"/messaging/v1/messageDefinitionSends/key:external_key/deliveryRecords/{failed}"
    ).json()
    assert record["status"] == "NotSent"
    assert record["messageErrors"][0]["messageErrorCode"] == 180010


def test_delivery_records_of_another_definition_or_org_are_not_found(client, definition, org):
    other = CampaignFactory(org=org, key="other_key", email_mailing=definition.email_mailing)
    recipient_send_id = send(client, BY_ID, ASYNC_EXAMPLE).json()["responses"][0]["recipientSendId"]
    base = "/messaging/v1/messageDefinitionSends"
    assert client.get(f"{base}/key:{other.key}/deliveryRecords/{recipient_send_id}").status_code == 404
    assert client.get(f"{base}/key:external_key/deliveryRecords/{uuid.uuid4()}").status_code == 404
    assert client.get(f"{base}/key:external_key/deliveryRecords/42").status_code == 404
    stranger = OrgFactory(name="Stranger")
    CampaignFactory(org=stranger, key="external_key")
    their = APIClient()
    their.credentials(
        HTTP_AUTHORIZATION=f"Bearer {access_token(stranger.pk, token_create(org=stranger, name='t')[1])}"
    )
    assert their.get(f"{base}/key:external_key/deliveryRecords/{recipient_send_id}").status_code == 404


def test_a_read_only_token_may_read_delivery_records(client, definition, org):
    recipient_send_id = send(client, BY_ID, ASYNC_EXAMPLE).json()["responses"][0]["recipientSendId"]
    _, secret = token_create(org=org, name="reader", scopes=["read"])
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(org.pk, secret)}")
    url = f"/messaging/v1/messageDefinitionSends/key:external_key/deliveryRecords/{recipient_send_id}"
    assert reader.get(url).status_code == 200


def test_a_line_break_in_the_subscriber_key_is_refused(client, definition):
    response = send(client, BY_ID, {"To": {"Address": "a@example.com", "SubscriberKey": "k\r\nBcc: x@y.z"}})
    assert response.status_code == 400
    assert response.json()["validationErrors"][0]["path"] == "To.SubscriberKey"
    assert not Send.objects.exists()


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"To": 5}, "To"),
        ({"To": {"Address": "ann@example.com"}, "Options": "SYNC"}, "Options"),
        ({"To": {"Address": 5}}, "To.Address"),
        ({"Options": {"RequestType": "LATER"}}, "Options.RequestType"),
        ({"To": {"Address": "ann@example.com"}, "Options": {"RequestType": ""}}, "Options.RequestType"),
    ],
)
def test_a_body_it_cannot_read_is_400_even_without_a_valid_address(client, definition, body, path):
    response = send(client, BY_ID, body)
    assert response.status_code == 400
    assert [e["path"] for e in response.json()["validationErrors"]] == [path]
    assert not Send.objects.exists()


def test_null_is_as_absent(client, definition):
    response = send(client, BY_ID, {"To": None, "From": None, "Options": None})
    assert response.status_code == 202
    assert response.json() == {
        "recipientSendId": "",
        "hasErrors": True,
        "messages": ["InvalidOrMissingToAddress"],
    }
    response = send(client, BY_ID, {"To": {"Address": "ann@example.com", "SubscriberKey": None}})
    assert response.json()["responses"][0]["messages"] == ["Queued"]


def test_a_client_id_in_digits_other_than_ascii_is_invalid_request(org, secret):
    # "²".isdigit() is true, and int("²") fails: such an id once made a 500.
    body = {"grant_type": "client_credentials", "client_id": "²", "client_secret": secret}
    response = APIClient().post("/v2/token", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("definition_path", ["a" * 300, "key:" + "k" * 200, "id:not-a-guid"])
def test_a_definition_of_any_shape_is_404_in_the_vendors_shape(client, definition, definition_path):
    response = send(client, f"/messaging/v1/messageDefinitionSends/{definition_path}/send", ASYNC_EXAMPLE)
    assert response.status_code == 404
    assert response.json()["errorcode"] == 10004


def test_a_body_over_the_size_limit_is_413_in_marketing_clouds_shapes(
    client, org, secret, definition, settings
):
    settings.HERALD_MAX_REQUEST_BYTES = 100
    response = send(client, BY_ID, ASYNC_EXAMPLE)
    assert response.status_code == 413
    message = f"The request body is {len(ASYNC_EXAMPLE)} bytes; at most 100 are accepted."
    assert response.json() == {
        "message": message,
        "errorcode": 10013,
        "documentation": "",
        "validationErrors": [{"message": message, "errorcode": 10013, "path": "body"}],
    }
    body = json.dumps(
        {"grant_type": "client_credentials", "client_id": str(org.pk), "client_secret": secret * 3}
    )
    response = APIClient().post("/v2/token", body, content_type="application/json")
    assert response.status_code == 413
    assert (
        response.json()["error_description"]
        == f"The request body is {len(body)} bytes; at most 100 are accepted."
    )
    assert not Send.objects.exists()
