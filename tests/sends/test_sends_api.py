import pytest
from django.core import mail

from sends.models import Send
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db
TRIGGER = "/api/v1/campaigns/order-completed/trigger/"


@pytest.fixture
def sends(api, campaign):
    body = api.post(
        TRIGGER,
        {
            "recipients": [{"email": "a@example.com"}, {"email": "b@example.com"}],
            "context": {"order_number": 1},
        },
        format="json",
    ).json()
    return [Send.objects.get(pk=s["id"]) for s in body["sends"]]


def test_the_send_log_is_listed_newest_first_and_paginated(api, sends):
    body = api.get("/api/v1/sends/?limit=1").json()
    assert body["count"] == 2
    assert [s["id"] for s in body["results"]] == [sends[1].id]
    assert body["next"] is not None


@pytest.mark.parametrize("param", ["correlation_id", "recipient", "status", "campaign"])
def test_the_send_log_is_filtered(api, sends, org, param):
    Send.objects.filter(pk=sends[0].pk).update(status="sent")
    CampaignFactory(org=org, key="other")
    value = {
        "correlation_id": sends[0].correlation_id,
        "recipient": sends[0].recipient_id,
        "status": "sent",
        "campaign": "order-completed",
    }[param]
    results = api.get(f"/api/v1/sends/?{param}={value}").json()["results"]
    expected = [sends[1].id, sends[0].id] if param == "campaign" else [sends[0].id]
    assert [s["id"] for s in results] == expected


def test_a_bad_filter_value_is_a_400_naming_it(api, sends):
    response = api.get(f"/api/v1/sends/?correlation_id=&reference={'x' * 256}&status=lost")
    assert response.status_code == 400
    assert {p["field"] for p in response.json()["error"]["problems"]} == {
        "correlation_id",
        "reference",
        "status",
    }


def test_a_send_shows_every_field_with_its_rendered_content(api, sends, eager_tasks):
    from dispatch.chunk import sends_dispatch

    sends_dispatch(send_ids=[sends[0].id])
    body = api.get(f"/api/v1/sends/{sends[0].id}/").json()
    assert body["status"] == "sent"
    assert body["subject"] == "Order 1 confirmed"
    assert "Hello" in body["text"] and "<b>1</b>" in body["html"]
    assert body["context"] == {"order_number": 1}
    assert body["campaign"] == "order-completed"
    assert body["provider_message_id"]
    for field in ("correlation_id", "attempts", "last_error", "scheduled_at", "sent_at", "retriggered_from",
                  "attachments", "possibly_duplicated"):  # fmt: skip
        assert field in body


def test_a_retrigger_makes_a_new_send_linked_to_the_old(
    api, sends, eager_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/sends/{sends[0].id}/retrigger/")
    assert response.status_code == 202
    new = Send.objects.get(pk=response.json()["id"])
    assert new.retriggered_from_id == sends[0].id
    assert new.correlation_id != sends[0].correlation_id
    assert new.status == "sent"
    assert [m.to for m in mail.outbox] == [["a@example.com"]]


def test_another_orgs_sends_are_not_found(other_api, sends):
    assert other_api.get(f"/api/v1/sends/{sends[0].id}/").status_code == 404
    assert other_api.post(f"/api/v1/sends/{sends[0].id}/retrigger/").status_code == 404
    assert other_api.get("/api/v1/sends/").json()["count"] == 0
    assert other_api.get(f"/api/v1/sends/?correlation_id={sends[0].correlation_id}").json()["count"] == 0
    assert Send.objects.count() == 2


def test_a_long_list_is_counted_only_up_to_a_cap_and_still_pages_on(api, sends, monkeypatch):
    from config.pagination import StrictLimitOffsetPagination

    monkeypatch.setattr(StrictLimitOffsetPagination, "COUNT_CAP", 1)
    body = api.get("/api/v1/sends/?limit=1").json()
    assert (body["count"], body["count_capped"]) == (1, True)
    assert [s["id"] for s in body["results"]] == [sends[1].id]
    body = api.get(body["next"]).json()
    assert (body["count"], body["count_capped"], body["next"]) == (2, False, None)
    assert [s["id"] for s in body["results"]] == [sends[0].id]


def test_another_orgs_campaign_key_finds_no_sends(other_api, sends):
    body = other_api.get("/api/v1/sends/?campaign=order-completed").json()
    assert (body["count"], body["results"]) == (0, [])
