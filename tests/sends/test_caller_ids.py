"""Every caller finds its sends and its trigger by the id it knows: its own, or Herald's per-send one."""

import pytest
from rest_framework.test import APIClient

from orgs.services import token_create
from sends.models import Send, Trigger
from tests.conftest import api_client_for
from tests.factories import CampaignFactory, RecipientFactory
from tests.test_admin import listed, url

pytestmark = pytest.mark.django_db


def sends_found(api, **params) -> list[int]:
    response = api.get("/api/v1/sends/", params)
    assert response.status_code == 200, response.json()
    return [s["id"] for s in response.json()["results"]]


def triggers_found(api, **params) -> list[dict]:
    response = api.get("/api/v1/triggers/", params)
    assert response.status_code == 200, response.json()
    return response.json()["results"]


@pytest.fixture
def parcellab(org, campaign):
    """POST /v2/trigger-message for the org, with parcelLab's headers."""
    _, secret = token_create(org=org, name="parcelLab", scopes=["send"])

    def trigger(correlation_id: str | None = None, *addresses: str) -> dict:
        body = {
            "to": [{"address": a} for a in addresses or ["ann@example.com"]],
            "channel": "email",
            "message": campaign.key,
            "placeholders": [{"name": "order_number", "value": "P-1"}],
        }
        if correlation_id is not None:
            body["correlationId"] = correlation_id
        response = APIClient().post(
            "/v2/trigger-message", body, format="json", headers={"user": str(org.pk), "token": secret}
        )
        assert response.status_code == 202, response.json()
        return response.json()

    return trigger


def test_a_parcellab_correlation_id_finds_its_sends_and_its_trigger(api, parcellab):
    answer = parcellab("order-4711", "ann@example.com", "bo@example.com")
    parcellab("order-4712")
    ids = [int(m["id"]) for m in answer["messages"]]
    assert sends_found(api, correlation_id="order-4711") == sorted(ids, reverse=True)
    assert sends_found(api, reference="order-4711") == sorted(ids, reverse=True)
    [trigger] = triggers_found(api, reference="order-4711")
    assert (trigger["source"], trigger["reference"], trigger["send_count"]) == ("parcellab", "order-4711", 2)
    assert api.get(f"/api/v1/triggers/{trigger['id']}/").json()["reference"] == "order-4711"


def test_a_generated_correlation_id_finds_the_sends_too(api, parcellab):
    answer = parcellab()
    assert sends_found(api, correlation_id=answer["correlationId"]) == [int(answer["messages"][0]["id"])]


def test_herald_s_own_correlation_id_still_finds_its_one_send(api, parcellab):
    parcellab("order-4711", "ann@example.com", "bo@example.com")
    send = Send.objects.order_by("pk").first()
    assert sends_found(api, correlation_id=str(send.correlation_id)) == [send.pk]
    assert sends_found(api, correlation_id=str(send.correlation_id).upper()) == [send.pk]
    assert sends_found(api, correlation_id="order-4711", status="queued", recipient=send.recipient_id) == [
        send.pk
    ]


def test_marketing_cloud_s_request_id_and_recipient_send_id_find_the_send(api, org, campaign):
    _, secret = token_create(org=org, name="sfmc")
    token = APIClient().post(
        "/v2/token",
        {"grant_type": "client_credentials", "client_id": str(org.pk), "client_secret": secret},
        format="json",
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.json()['access_token']}")
    answer = client.post(
        f"/messaging/v1/messagedefinitionsends/key:{campaign.key}/send",
        {"To": {"Address": "ann@example.com", "SubscriberKey": "crm-9"}},
        format="json",
    ).json()
    send = Send.objects.get()
    assert sends_found(api, correlation_id=answer["requestId"]) == [send.pk]
    assert sends_found(api, reference=answer["requestId"]) == [send.pk]
    assert sends_found(api, correlation_id=answer["responses"][0]["recipientSendId"]) == [send.pk]
    assert [t["source"] for t in triggers_found(api, reference=answer["requestId"])] == ["marketing_cloud"]


def test_message_central_s_idempotency_key_finds_its_sends(org, campaign):
    api = api_client_for(org)
    recipient = RecipientFactory(org=org)
    response = api.put(
        f"/v3.7/mailing/trigger?orgid={org.pk}&mid={campaign.pk}",
        [{"rid": recipient.pk}],
        format="json",
        headers={"Idempotency-Key": "cart-31"},
    )
    assert response.status_code == 200
    assert sends_found(api, correlation_id="cart-31") == [Send.objects.get().pk]
    assert Trigger.objects.get().idempotency_key == "message_central:cart-31"


def test_trigger_launch_s_idempotency_key_finds_its_sends(org, campaign):
    _, secret = token_create(org=org, name="launch")
    recipient = RecipientFactory(org=org, email="ann@example.com")
    response = APIClient().post(
        "/api/v1.1/campaigns/triggers/start/",
        {"token": secret, "id": campaign.pk, "email": recipient.email},
        format="json",
        headers={"Idempotency-Key": "video-8"},
    )
    assert response.json()["error"] == 0
    assert sends_found(api_client_for(org), reference="video-8") == [Send.objects.get().pk]


def test_the_native_reference_or_else_the_idempotency_key_finds_the_sends(api, campaign):
    trigger = f"/api/v1/campaigns/{campaign.key}/trigger/"
    by_reference = api.post(
        trigger,
        {"recipients": [{"email": "a@example.com"}], "reference": "order-A-1001"},
        format="json",
        headers={"Idempotency-Key": "attempt-1"},
    ).json()
    by_key = api.post(
        trigger,
        {"recipients": [{"email": "b@example.com"}]},
        format="json",
        headers={"Idempotency-Key": "k-2"},
    ).json()
    assert sends_found(api, correlation_id="order-A-1001") == [by_reference["sends"][0]["id"]]
    assert sends_found(api, reference="k-2") == [by_key["sends"][0]["id"]]
    assert [t["id"] for t in triggers_found(api, reference="k-2")] == [by_key["trigger"]]
    assert sends_found(api, reference="attempt-1") == []  # the reference is the caller's id, not the key


def test_the_triggers_list_is_newest_first_and_filtered_by_campaign(api, org, campaign):
    other = CampaignFactory(org=org, key="other")
    for key in (campaign.key, other.key, campaign.key):
        api.post(
            f"/api/v1/campaigns/{key}/trigger/", {"recipients": [{"email": "a@example.com"}]}, format="json"
        )
    mine = list(Trigger.objects.filter(campaign=campaign).order_by("-pk").values_list("pk", flat=True))
    assert [t["id"] for t in triggers_found(api, campaign=campaign.key)] == mine
    assert len(triggers_found(api)) == 3
    assert triggers_found(api, campaign="nope") == []


def test_another_org_never_finds_the_callers_id(api, other_api, other_org, parcellab):
    parcellab("order-4711")
    trigger = Trigger.objects.get()
    assert sends_found(other_api, correlation_id="order-4711") == []
    assert sends_found(other_api, reference="order-4711") == []
    assert triggers_found(other_api, reference="order-4711") == []
    assert other_api.get(f"/api/v1/triggers/{trigger.pk}/").status_code == 404
    # The same id in two orgs: each finds its own.
    theirs = CampaignFactory(org=other_org, key="theirs")
    other_api.post(
        f"/api/v1/campaigns/{theirs.key}/trigger/",
        {"recipients": [{"email": "z@example.com"}], "reference": "order-4711"},
        format="json",
    )
    assert sends_found(api, reference="order-4711") == list(trigger.sends.values_list("pk", flat=True))
    assert [t["campaign"] for t in triggers_found(other_api, reference="order-4711")] == ["theirs"]


def test_a_reference_must_be_1_to_255_characters(api, campaign):
    response = api.post(
        f"/api/v1/campaigns/{campaign.key}/trigger/",
        {"recipients": [{"email": "a@example.com"}], "reference": "x" * 256},
        format="json",
    )
    assert response.status_code == 400
    assert [p["field"] for p in response.json()["error"]["problems"]] == ["reference"]
    assert api.get("/api/v1/triggers/", {"reference": ""}).status_code == 400


def test_the_admin_send_log_and_trigger_search_find_the_callers_id(admin_client, parcellab):
    parcellab("order-4711", "ann@example.com", "bo@example.com")
    parcellab("order-4712")
    trigger = Trigger.objects.get(reference="order-4711")
    found = listed(admin_client.get(url("sends_send_changelist"), {"q": "order-4711"}))
    assert sorted(s.pk for s in found) == sorted(trigger.sends.values_list("pk", flat=True))
    assert listed(admin_client.get(url("sends_trigger_changelist"), {"q": "order-4711"})) == [trigger]
    assert listed(admin_client.get(url("sends_trigger_changelist"), {"q": "ORDER-4711"})) == []
