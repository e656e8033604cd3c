"""Issue #17 in the dialects: a line break in anything that becomes a name, a header or a reference is a 400
naming the field, and the refused request stores nothing; a link id with a NUL is the link's 404."""

import pytest
from rest_framework.test import APIClient

from orgs.services import token_create
from recipients.models import Recipient
from sends.models import Trigger
from tests.factories import CampaignFactory, RecipientFactory

pytestmark = pytest.mark.django_db

CRLF = "a\r\nBcc: x@example.com"


@pytest.fixture
def world(org):
    campaign = CampaignFactory(org=org, key="order-completed")
    profile = RecipientFactory(org=org, email="ada@example.com", first_name="Ada")
    _, secret = token_create(org=org, name="dialects")
    return campaign, profile, secret


def fields_of(response) -> str:
    return str(response.json())


@pytest.mark.parametrize(("field", "body"), [
    ("correlationId", {"correlationId": CRLF}),
    ("client", {"client": "shop\nX-Injected: 1"}),
])  # fmt: skip
def test_parcellab_reference_and_client_are_one_line(world, org, field, body):
    _, _, secret = world
    payload = {
        "to": [{"address": "bo@example.com"}],
        "channel": "email",
        "message": "order-completed",
        **body,
    }
    response = APIClient().post(
        "/v2/trigger-message", payload, format="json", HTTP_USER=str(org.pk), HTTP_TOKEN=secret
    )
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert not Trigger.objects.exists()


def test_trigger_launch_email_title_is_one_line(world):
    campaign, _, secret = world
    body = {"token": secret, "id": campaign.pk, "matching": "email", "email": "ada@example.com",
            "content": {"email_title": CRLF}}  # fmt: skip
    response = APIClient().post("/api/v1.1/campaigns/triggers/start/", body, format="json")
    assert response.status_code == 400 and "content.email_title" in response.json()["error_text"]
    assert not Trigger.objects.exists()


@pytest.mark.parametrize(
    ("name", "value"), [("first_name", CRLF), ("LastName", "x\ty"), ("locale", "../../x")]
)
def test_trigger_launch_writes_no_line_break_or_bad_locale_to_a_profile(world, name, value):
    campaign, profile, _ = world
    body = {"fields": [{"name": name, "value": value, "option": 2}]}
    response = APIClient().post(f"/trg/{campaign.link_id}/ada@example.com", body, format="json")
    assert response.status_code == 400 and "fields[0].value" in response.json()["error_text"]
    profile.refresh_from_db()
    assert (profile.first_name, profile.last_name, profile.locale) == ("Ada", "Lovelace", "")
    assert not Trigger.objects.exists()


def test_a_value_for_this_message_only_may_hold_a_line_break(world):
    campaign, _, _ = world
    body = {"fields": [{"name": "note", "value": "line 1\nline 2", "option": 1}]}
    response = APIClient().post(f"/trg/{campaign.link_id}/ada@example.com", body, format="json")
    assert response.status_code == 200


@pytest.mark.parametrize("key", ["order\x01-1", "order\t1"])
def test_an_idempotency_key_that_becomes_a_reference_is_one_line(world, key):
    campaign, _, _ = world
    response = APIClient().post(
        f"/trg/{campaign.link_id}/ada@example.com", {}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["error_text"]
    assert not Trigger.objects.exists()


@pytest.mark.parametrize("link_id", ["abc%00", "%00", "not-hex", "a" * 65])
def test_a_link_id_that_is_no_hex_is_the_links_404(world, link_id):
    response = APIClient().get(f"/trg/{link_id}/ada@example.com")
    assert response.status_code == 404
    assert Recipient.objects.count() == 1 and not Trigger.objects.exists()
