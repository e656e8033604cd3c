import pytest

from campaigns.models import Campaign
from tests.conftest import api_client_for
from tests.factories import CampaignFactory, MailingFactory, SmsMailingFactory

pytestmark = pytest.mark.django_db


def test_a_campaign_is_created_and_read_by_key(api, org):
    mailing = MailingFactory(org=org)
    sms = SmsMailingFactory(org=org)
    response = api.post(
        "/api/v1/campaigns/",
        {
            "key": "parcel-shipped",
            "name": "Parcel shipped",
            "email_mailing": mailing.id,
            "sms_mailing": sms.id,
            "delay_seconds": 30,
        },
        format="json",
    )
    assert response.status_code == 201
    body = api.get("/api/v1/campaigns/parcel-shipped/").json()
    campaign = Campaign.objects.get(key="parcel-shipped")
    assert body["id"] == campaign.id
    assert body["object_id"] == str(campaign.object_id)
    assert body["link_id"] == campaign.link_id and len(campaign.link_id) == 48
    assert (body["email_mailing"], body["sms_mailing"], body["status"], body["delay_seconds"]) == (
        mailing.id, sms.id, "active", 30,
    )  # fmt: skip


def test_campaigns_are_listed_updated_paused_and_deleted(api, campaign):
    assert [c["key"] for c in api.get("/api/v1/campaigns/").json()["results"]] == ["order-completed"]
    response = api.patch("/api/v1/campaigns/order-completed/", {"status": "paused"}, format="json")
    assert response.status_code == 200
    campaign.refresh_from_db()
    assert campaign.status == "paused"
    assert api.delete("/api/v1/campaigns/order-completed/").status_code == 204
    assert not Campaign.objects.exists()


def test_read_only_ids_cannot_be_set(api, campaign):
    before = (campaign.object_id, campaign.link_id)
    api.patch(
        "/api/v1/campaigns/order-completed/", {"object_id": "x", "link_id": "y", "id": 5}, format="json"
    )
    campaign.refresh_from_db()
    assert (campaign.object_id, campaign.link_id) == before


def test_a_duplicate_key_in_the_org_is_refused_but_another_org_may_use_it(api, other_api, campaign):
    response = api.post("/api/v1/campaigns/", {"key": "order-completed", "name": "Again"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["problems"][0]["field"] == "key"
    assert (
        other_api.post(
            "/api/v1/campaigns/", {"key": "order-completed", "name": "Theirs"}, format="json"
        ).status_code
        == 201
    )


def test_a_bad_key_is_refused(api):
    response = api.post("/api/v1/campaigns/", {"key": "has spaces", "name": "X"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["problems"][0]["field"] == "key"


def test_another_orgs_mailing_cannot_be_used(api, other_org):
    theirs = MailingFactory(org=other_org)
    response = api.post(
        "/api/v1/campaigns/", {"key": "x", "name": "X", "email_mailing": theirs.id}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["problems"][0]["field"] == "email_mailing"


def test_another_orgs_campaign_is_not_found_for_any_method(other_api, campaign):
    url = "/api/v1/campaigns/order-completed/"
    assert other_api.get(url).status_code == 404
    assert other_api.patch(url, {"name": "mine"}, format="json").status_code == 404
    assert other_api.delete(url).status_code == 404
    assert other_api.get("/api/v1/campaigns/").json()["results"] == []
    campaign.refresh_from_db()
    assert campaign.name == "Order completed"


def test_a_mailing_sent_by_a_campaign_cannot_be_deleted(api, campaign):
    response = api.delete(f"/api/v1/mailings/{campaign.email_mailing_id}/")
    assert response.status_code == 400
    assert "campaign sends this mailing" in response.json()["error"]["problems"][0]["message"]


def test_campaign_key_lookups_of_other_orgs_do_not_leak_through_triggers(other_api, org, other_org):
    CampaignFactory(org=org, key="mine")
    response = other_api.post(
        "/api/v1/campaigns/mine/trigger/", {"recipients": [{"email": "a@b.co"}]}, format="json"
    )
    assert response.status_code == 404


def test_the_secret_link_is_shown_only_to_tokens_that_may_send(org, campaign):
    reader = api_client_for(org, scopes=["read"])
    sender = api_client_for(org, scopes=["read", "send"])

    assert reader.get(f"/api/v1/campaigns/{campaign.key}/").json()["link_id"] is None
    assert sender.get(f"/api/v1/campaigns/{campaign.key}/").json()["link_id"] == campaign.link_id
