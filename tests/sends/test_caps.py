"""Frequency caps and the de-duplication window: judged at intake and again, under a lock, at dispatch."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from campaigns.models import CampaignKind, CapScope
from core import metrics
from dispatch.chunk import sends_dispatch
from sends import caps
from sends.models import Send
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db
Status = Send.Status
DAY = 86400


@pytest.fixture(autouse=True)
def _fresh_campaign_cache(monkeypatch):
    monkeypatch.setattr(caps, "_limited", (0.0, frozenset()))  # each test's campaigns, not a cached set


def trigger(api, key: str, emails: list[str], **fields) -> list[dict]:
    response = api.post(
        f"/api/v1/campaigns/{key}/trigger/",
        {"recipients": [{"email": e} for e in emails], "context": {"order_number": 1}, **fields},
        format="json",
    )
    assert response.status_code == 202, response.content
    return response.json()["sends"]


@pytest.fixture
def capped(campaign):
    campaign.cap_sends, campaign.cap_period_seconds = 2, DAY
    campaign.save()
    return campaign


def test_the_send_over_the_cap_ends_capped_with_its_reason_and_the_answer_says_so(api, capped):
    trigger(api, capped.key, ["ada@example.com"])
    trigger(api, capped.key, ["ada@example.com"])
    [third] = trigger(api, capped.key, ["ada@example.com"])
    assert third["status"] == "capped"
    assert third["last_error"] == "Capped: at most 2 sends of this campaign to a recipient per 1 day."
    send = Send.objects.get(pk=third["id"])
    assert send.last_error == third["last_error"]
    assert send.queued_at is None
    assert api.get("/api/v1/sends/?status=capped").json()["count"] == 1


def test_a_cap_hit_in_the_middle_of_a_batch_ends_only_that_recipients_send(api, capped, make_send, recipient):
    for _ in range(2):
        make_send(recipient=recipient, status=Status.SENT, claimed_at=timezone.now() - timedelta(hours=1))
    sends = trigger(api, capped.key, ["bo@example.com", recipient.email, "cy@example.com"])
    assert [s["status"] for s in sends] == ["queued", "capped", "queued"]


def test_sends_older_than_the_period_do_not_count(api, capped, make_send, recipient):
    for _ in range(2):
        make_send(recipient=recipient, status=Status.SENT, claimed_at=timezone.now() - timedelta(days=2))
    [send] = trigger(api, capped.key, [recipient.email])
    assert send["status"] == "queued"


def test_a_marketing_cap_counts_every_marketing_campaign_of_the_org(api, org, make_send, recipient):
    news = CampaignFactory(org=org, key="news", kind=CampaignKind.MARKETING)
    promo = CampaignFactory(
        org=org, key="promo", kind=CampaignKind.MARKETING, cap_sends=1, cap_period_seconds=DAY,
        cap_scope=CapScope.MARKETING,
    )  # fmt: skip
    make_send(campaign=news, recipient=recipient, status=Status.SENT, claimed_at=timezone.now())
    [send] = trigger(api, promo.key, [recipient.email])
    assert send["status"] == "capped"
    assert "marketing sends" in Send.objects.get(pk=send["id"]).last_error


def test_a_repeat_with_the_same_dedup_key_within_the_window_is_deduplicated(api, campaign):
    campaign.dedup_seconds = 3600
    campaign.save()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        [first] = trigger(api, campaign.key, ["ada@example.com"], dedup_key="order-7")
        [repeat] = trigger(api, campaign.key, ["ada@example.com"], dedup_key="order-7")
        [other] = trigger(api, campaign.key, ["ada@example.com"], dedup_key="order-8")
        clock.shift(timedelta(hours=2))
        [later] = trigger(api, campaign.key, ["ada@example.com"], dedup_key="order-7")
    assert [s["status"] for s in (first, repeat, other, later)] == [
        "queued",
        "deduplicated",
        "queued",
        "queued",
    ]
    assert Send.objects.get(pk=repeat["id"]).last_error == "A repeat within 1 hour of dedup key 'order-7'."


def test_dispatch_judges_again_what_intake_let_through(capped, make_send, recipient):
    # Accepted side by side, before either was sent: intake counted neither as the other's.
    sends = [make_send(recipient=recipient) for _ in range(3)]
    assert sends_dispatch(send_ids=[sends[0].pk]) == {"sent": 1}
    assert sends_dispatch(send_ids=[s.pk for s in sends[1:]]) == {"sent": 1}
    assert sorted(Send.objects.values_list("status", flat=True)) == ["capped", "sent", "sent"]
    assert len(mail.outbox) == 2
    assert metrics._totals("herald_sends")["email\x1fcapped"] == 1


def test_a_capped_send_is_not_a_failure(api, capped):
    for _ in range(3):
        trigger(api, capped.key, ["ada@example.com"])
    assert Status.CAPPED in Send.FINAL_STATUSES
    assert not Send.objects.filter(status=Status.FAILED).exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"cap_sends": 2}, "cap_sends"),
        ({"cap_sends": 0, "cap_period_seconds": 60}, "cap_sends"),
        ({"dedup_seconds": 10**12}, "dedup_seconds"),
        ({"cap_scope": "everything"}, "cap_scope"),
    ],
)
def test_bad_limits_are_a_400_naming_the_field(api, campaign, fields, field):
    response = api.patch(f"/api/v1/campaigns/{campaign.key}/", fields, format="json")
    assert response.status_code == 400
    assert field in {p["field"] for p in response.json()["error"]["problems"]}
    campaign.refresh_from_db()
    assert (campaign.cap_sends, campaign.dedup_seconds) == (None, None)


def test_a_dedup_key_with_a_line_break_is_refused(api, campaign):
    response = api.post(
        f"/api/v1/campaigns/{campaign.key}/trigger/",
        {"recipients": [{"email": "a@example.com"}], "context": {"order_number": 1}, "dedup_key": "a\r\nb"},
        format="json",
    )
    assert response.status_code == 400
    assert [p["field"] for p in response.json()["error"]["problems"]] == ["dedup_key"]
