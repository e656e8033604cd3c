import base64

import pytest
from django.core import mail
from rest_framework.test import APIClient

from dispatch import sms
from orgs.services import token_create
from recipients.models import Recipient
from sends.models import Send, Trigger
from tests.conftest import api_client_for
from tests.dialects.conftest import with_pk
from tests.factories import CampaignFactory, MailingFactory, OrgFactory, RecipientFactory, SmsMailingFactory

pytestmark = pytest.mark.django_db

# The vendor's examples, as its documents print them (000_… and 001_…).
EXISTING_RECIPIENT = """{
    "rid": 22,
    "context": {
        "ordernumber": 123
    }
}"""
ON_THE_FLY = """{
    "lastName": "Doe",
    "context": {
        "header": "XYZ-123"
    },
    "email": "user@domain.com",
    "firstName": "John"
}"""
RECIPIENT_IDS = "  [13, 20]"
V37_EXAMPLE = '[{email: "user@domain.com", firstname: "John", lastname: "Doe", context: "XYZ-123"}]'

V10 = "/v1.0/mailing/trigger?orgid=2&mid=1"
V37 = "/v3.7/mailing/trigger?orgid=2&mid=1"


@pytest.fixture
def mc_org():
    return with_pk(OrgFactory, 2)


@pytest.fixture
def mailing(mc_org):
    mailing = MailingFactory(
        org=mc_org,
        subject="Order {{ context.ordernumber }}",
        text="Hello {{ recipient.first_name }}, order {{ context.ordernumber }} is on its way.",
        html="",
    )
    return with_pk(CampaignFactory, 1, org=mc_org, key="order-confirmation", email_mailing=mailing)


@pytest.fixture
def client(mc_org) -> APIClient:
    return api_client_for(mc_org)


@pytest.fixture
def rid_22(mc_org):
    return with_pk(RecipientFactory, 22, org=mc_org, first_name="Grace")


def put(client: APIClient, url: str, body: str, method: str = "put"):
    return getattr(client, method)(url, body, content_type="application/json")


@pytest.mark.parametrize("method", ["put", "post"])
def test_the_documented_existing_recipient_example_adds_recipient_22(client, mailing, rid_22, method):
    response = put(client, V10, EXISTING_RECIPIENT, method)
    assert response.status_code == 200
    assert response.json() == [22]
    send = Send.objects.get()
    assert (send.recipient_id, send.to_address, send.context) == (22, rid_22.email, {"ordernumber": 123})
    assert send.trigger.source == "message_central"


def test_the_documented_on_the_fly_example_creates_the_recipient(client, mailing):
    response = put(client, V10, ON_THE_FLY)
    assert response.status_code == 200
    recipient = Recipient.objects.get(email="user@domain.com")
    assert response.json() == [recipient.pk]
    assert (recipient.first_name, recipient.last_name) == ("John", "Doe")
    assert Send.objects.get().context == {"header": "XYZ-123"}


def test_an_existing_email_reuses_its_recipient(client, mailing, mc_org):
    known = RecipientFactory(org=mc_org, email="user@domain.com", first_name="Johnny")
    response = put(client, V10, ON_THE_FLY)
    assert response.json() == [known.pk]
    assert Recipient.objects.filter(org=mc_org).count() == 1


def test_the_documented_array_of_recipient_ids_adds_both_without_context(client, mailing, mc_org):
    with_pk(RecipientFactory, 13, org=mc_org)
    with_pk(RecipientFactory, 20, org=mc_org)
    response = put(client, V10, RECIPIENT_IDS)
    assert response.status_code == 200
    assert response.json() == [13, 20]
    assert [(s.recipient_id, s.context) for s in Send.objects.order_by("pk")] == [(13, {}), (20, {})]


@pytest.mark.parametrize("method", ["put", "post"])
def test_the_documented_v37_example_is_read_although_its_keys_are_unquoted(client, mailing, method):
    response = put(client, V37, V37_EXAMPLE, method)
    assert response.status_code == 200
    recipient = Recipient.objects.get(email="user@domain.com")
    assert response.json() == [recipient.pk]
    assert (recipient.first_name, recipient.last_name) == ("John", "Doe")
    assert Send.objects.get().context == "XYZ-123"


def test_an_unknown_rid_is_named_and_nothing_of_the_batch_is_sent(client, mailing, rid_22):
    response = put(client, V10, '[{"rid": 22}, {"rid": 999999}, {"email": "new@example.com"}]')
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "[1].rid", "message": "No recipient with rid 999999."}]
    assert not Send.objects.exists()
    assert not Trigger.objects.exists()
    assert not Recipient.objects.filter(email="new@example.com").exists()


def test_v10_field_names_are_case_sensitive_and_the_error_says_which_spelling(client, mailing):
    response = put(client, V10, '{"email": "a@example.com", "lastname": "Doe"}')
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "field": "lastname",
            "message": "Unknown field 'lastname': field names are case sensitive in v1.0; use 'lastName'.",
        }
    ]
    assert not Send.objects.exists()


def test_v37_spells_names_in_lower_case(client, mailing):
    response = put(client, V37, '[{"email": "a@example.com", "firstName": "Ann"}]')
    assert response.status_code == 400
    assert "use 'firstname'" in response.json()["errors"][0]["message"]


def test_v37_mobile_numbers_reach_recipients_by_sms_where_the_campaign_has_an_sms_mailing(
    client, mailing, mc_org
):
    mailing.sms_mailing = SmsMailingFactory(org=mc_org, text="Order {{ context.ordernumber }} shipped")
    mailing.save()
    response = put(
        client,
        V37,
        '[{"email": "a@example.com", "mobile": "+49 151 2345 6789", "context": {"ordernumber": 7}}]',
    )
    assert response.status_code == 200
    recipient = Recipient.objects.get(email="a@example.com")
    assert response.json() == [recipient.pk]
    assert recipient.phone == "+4915123456789"
    assert sorted((s.channel, s.to_address) for s in Send.objects.all()) == [
        ("email", "a@example.com"),
        ("sms", "+4915123456789"),
    ]


def test_v10_has_no_sms_fields(client, mailing):
    response = put(client, V10, '{"email": "a@example.com", "mobile": "+4915123456789"}')
    assert response.status_code == 400
    assert "SMS fields need the /v3.7/ trigger" in response.json()["errors"][0]["message"]


def test_a_trigger_renders_the_callers_context_into_the_outbox(
    client, mailing, rid_22, eager_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = put(client, V10, EXISTING_RECIPIENT)
    assert response.status_code == 200
    [message] = mail.outbox
    assert message.to == [rid_22.email]
    assert message.subject == "Order 123"
    assert message.body == "Hello Grace, order 123 is on its way."


def test_the_token_may_come_as_the_password_of_http_basic(mailing, rid_22, mc_org):
    _, secret = token_create(org=mc_org, name="basic")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"admin:{secret}".encode()).decode())
    assert put(client, V10, EXISTING_RECIPIENT).json() == [22]


def test_no_credentials_or_a_wrong_token_is_401_asking_for_basic(mailing, rid_22):
    anonymous = put(APIClient(), V10, EXISTING_RECIPIENT)
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == 'Basic realm="herald"'
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Bearer hrld_not-a-token")
    assert put(wrong, V10, EXISTING_RECIPIENT).status_code == 401
    assert not Send.objects.exists()


def test_a_token_without_the_send_scope_is_403(mailing, rid_22, mc_org):
    response = put(api_client_for(mc_org, scopes=["read"]), V10, EXISTING_RECIPIENT)
    assert response.status_code == 403
    assert response.json()["message"] == "This API token lacks the 'send' scope."


def test_another_orgs_token_reaches_nothing_of_this_org(mailing, rid_22):
    stranger = OrgFactory(name="Stranger")
    CampaignFactory(org=stranger)
    response = put(api_client_for(stranger), V10, EXISTING_RECIPIENT)
    assert response.status_code == 404
    assert response.json()["message"] == "No org 2 for this API token."
    assert not Send.objects.exists()


def test_another_orgs_mailing_and_recipient_are_not_found(client, mailing, rid_22):
    stranger = OrgFactory(name="Stranger")
    their_campaign = CampaignFactory(org=stranger)
    their_recipient = RecipientFactory(org=stranger)
    response = put(client, f"/v1.0/mailing/trigger?orgid=2&mid={their_campaign.pk}", EXISTING_RECIPIENT)
    assert response.status_code == 404
    assert response.json()["message"] == f"No mailing {their_campaign.pk} in org 2."
    response = put(client, V10, f"[{their_recipient.pk}]")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "[0].rid", "message": f"No recipient with rid {their_recipient.pk}."}
    ]
    assert not Send.objects.exists()


def test_orgid_and_mid_are_required_integers(client, mailing):
    response = put(client, "/v1.0/mailing/trigger?orgid=two", EXISTING_RECIPIENT)
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"orgid", "mid"}


def test_the_raw_sql_filter_of_the_original_is_never_offered(client, mailing, rid_22):
    response = put(client, V10 + "&extraWhereClause=m.mailingname='MyMailing'", EXISTING_RECIPIENT)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "extraWhereClause"
    assert client.get("/v1.0/mailing?orgid=2&extraWhereClause=m.mailingname='MyMailing'").status_code == 404
    assert not Send.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("{not json", "body"),
        ('"just text"', "body"),
        ("[]", "body"),
        ("[true]", "[0]"),
        ('[{"context": {}}]', "[0]"),
        ('{"rid": "22"}', "rid"),
        ('{"email": "a@example.com", "context": "\\u0000"}', "context"),
        ('{"email": "not-an-address"}', "email"),
        ('{"email": "' + "a" * 250 + '@example.com"}', "email"),
    ],
)
def test_a_body_it_cannot_use_is_400_naming_the_field(client, mailing, rid_22, body, field):
    response = put(client, V10, body)
    assert response.status_code == 400
    assert field in {e["field"] for e in response.json()["errors"]}
    assert not Send.objects.exists()


def test_the_same_idempotency_key_answers_the_first_answer_again(client, mailing, rid_22):
    first = client.put(
        V10, EXISTING_RECIPIENT, content_type="application/json", HTTP_IDEMPOTENCY_KEY="order-123"
    )
    again = client.put(
        V10, EXISTING_RECIPIENT, content_type="application/json", HTTP_IDEMPOTENCY_KEY="order-123"
    )
    assert first.json() == again.json() == [22]
    assert Send.objects.count() == 1


def test_a_paused_campaign_is_a_conflict(client, mailing, rid_22):
    mailing.status = "paused"
    mailing.save()
    response = put(client, V10, EXISTING_RECIPIENT)
    assert response.status_code == 409
    assert not Send.objects.exists()
    assert not sms.outbox


@pytest.mark.parametrize(("url", "field"), [(V10, "[0].lastName"), (V37, "[0].lastname")])
def test_a_line_break_in_a_name_is_refused_in_the_versions_spelling(client, mailing, url, field):
    name = "lastName" if url == V10 else "lastname"
    response = put(client, url, f'[{{"email": "a@example.com", "{name}": "Doe\\r\\nBcc: x@example.com"}}]')
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": field, "message": "Must not contain line breaks."}]


@pytest.mark.parametrize(("body", "field"), [(f"[{2**63}]", "[0]"), (f'{{"rid": {2**63}}}', "rid")])
def test_a_recipient_id_the_database_cannot_hold_is_a_400_naming_it(client, mailing, body, field):
    response = put(client, V10, body)
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_ids_in_digits_other_than_ascii_are_not_ids(client, mailing, rid_22):
    # "²".isdigit() is true, and int("²") fails: such an id once made a 500.
    response = put(client, "/v1.0/mailing/trigger?orgid=%C2%B2&mid=1", EXISTING_RECIPIENT)
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["orgid"]


def test_a_body_over_the_size_limit_is_413_in_message_centrals_shape(client, mailing, rid_22, settings):
    settings.HERALD_MAX_REQUEST_BYTES = 20
    response = put(client, V10, EXISTING_RECIPIENT)
    assert response.status_code == 413
    message = f"The request body is {len(EXISTING_RECIPIENT)} bytes; at most 20 are accepted."
    assert response.json() == {"message": message, "errors": [{"field": "body", "message": message}]}
    assert not Send.objects.exists()


# Paths: the vendor documents them in lower case and says nothing of other cases, so they are matched as
# documented (docs/dialects.md, "Paths"); a client that lowercases paths reaches them all the same.


@pytest.mark.parametrize("url", [V10, V10.lower(), V37, V37.lower()])
def test_the_documented_paths_are_answered_as_documented_and_lowercased(client, mailing, rid_22, url):
    response = put(client, url, EXISTING_RECIPIENT)
    assert response.status_code == 200
    assert response.json() == [22]


def test_a_path_in_another_case_is_no_route(client, mailing, rid_22):
    assert put(client, "/V1.0/Mailing/Trigger?orgid=2&mid=1", EXISTING_RECIPIENT).status_code == 404
    assert not Send.objects.exists()
