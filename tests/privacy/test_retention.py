"""Retention: past its org's retention, a send keeps its status, times and ids and loses what it said."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from outbound_webhooks.models import WebhookDelivery, WebhookEndpoint
from privacy.services import sends_purge_expired
from privacy.tasks import purge_expired_sends
from sends.models import DeliveryEvent, Send, Trigger
from tests.factories import CampaignFactory, OrgFactory, RecipientFactory

pytestmark = pytest.mark.django_db
Status = Send.Status
NOW = timezone.now()


def make_send(org, *, days_old: int, status: str = Status.SENT, trigger: Trigger | None = None) -> Send:
    campaign = trigger.campaign if trigger else CampaignFactory(org=org)
    created = NOW - timedelta(days=days_old)
    recipient = RecipientFactory(org=org)
    send = Send.objects.create(
        org=org, campaign=campaign, mailing=campaign.email_mailing, recipient=recipient, trigger=trigger,
        channel="email", to_address=recipient.email, status=status, context={"order": "A-1"},
        metadata={"crm": "x"}, subject="Order A-1", text="Hello Ada", html="<p>Hello Ada</p>",
        created_at=created, sent_at=created, provider_message_id=f"pm-{recipient.pk}",
    )  # fmt: skip
    return send


def make_trigger(org, *, days_old: int) -> Trigger:
    campaign = CampaignFactory(org=org)
    attachment = {"filename": "invoice.pdf", "content_type": "application/pdf", "content": "JVBERi0="}
    return Trigger.objects.create(
        org=org, campaign=campaign, context={"order": "A-1"}, attachments=[attachment],
        created_at=NOW - timedelta(days=days_old),
    )  # fmt: skip


def is_purged(send: Send) -> bool:
    send.refresh_from_db()
    return (send.subject, send.text, send.html, send.context, send.metadata) == ("", "", "", {}, {})


def test_sends_past_the_orgs_retention_lose_their_content_and_keep_their_facts():
    org = OrgFactory(retention_days=30)
    trigger = make_trigger(org, days_old=31)
    old, recent = make_send(org, days_old=31, trigger=trigger), make_send(org, days_old=29)
    facts = Send.objects.values("pk", "status", "created_at", "sent_at", "correlation_id", "to_address")
    before = {row["pk"]: row for row in facts}

    assert sends_purge_expired(now=NOW) == 1
    assert is_purged(old) and old.purged_at is not None
    assert not is_purged(recent) and recent.purged_at is None
    assert {row["pk"]: row for row in facts} == before
    trigger.refresh_from_db()
    assert (trigger.context, trigger.attachments) == (None, [])


def test_event_payloads_and_webhook_bodies_of_purged_sends_are_emptied():
    org = OrgFactory(retention_days=30)
    old = make_send(org, days_old=31)
    endpoint = WebhookEndpoint.objects.create(org=org, url="https://hooks.example.com/")
    event = DeliveryEvent.objects.create(
        org=org, send=old, esp_name="Postmark", event_type="delivered", payload={"Recipient": old.to_address},
        dedupe_key="k1",
    )  # fmt: skip
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, send=old, event="sent", payload={"send": {"to": old.to_address}}, retry_until=NOW,
        status=WebhookDelivery.Status.DELIVERED,
    )  # fmt: skip
    sends_purge_expired(now=NOW)
    event.refresh_from_db()
    delivery.refresh_from_db()
    assert event.payload is None and event.event_type == "delivered"
    assert delivery.payload == {} and delivery.status == "delivered"


def test_a_send_still_to_go_keeps_its_content_and_its_triggers_attachments():
    org = OrgFactory(retention_days=30)
    trigger = make_trigger(org, days_old=40)
    waiting = make_send(org, days_old=40, status=Status.SCHEDULED, trigger=trigger)
    done = make_send(org, days_old=40, trigger=trigger)
    assert sends_purge_expired(now=NOW) == 1
    assert is_purged(done) and not is_purged(waiting)
    trigger.refresh_from_db()
    assert trigger.attachments  # the scheduled send still needs them


def test_the_setting_is_the_default_and_an_orgs_own_value_wins(settings):
    settings.HERALD_RETENTION_DAYS = 90
    by_default, keeps_for_good, shorter = (
        OrgFactory(),
        OrgFactory(retention_days=0),
        OrgFactory(retention_days=7),
    )
    sends = {org: make_send(org, days_old=10) for org in (by_default, keeps_for_good, shorter)}
    ancient = {org: make_send(org, days_old=100) for org in (by_default, keeps_for_good)}
    sends_purge_expired(now=NOW)
    assert [is_purged(s) for s in sends.values()] == [False, False, True]
    assert [is_purged(s) for s in ancient.values()] == [True, False]


def test_with_nothing_set_nothing_is_purged():
    assert django_settings.HERALD_RETENTION_DAYS == 0
    send = make_send(OrgFactory(), days_old=3650)
    assert sends_purge_expired(now=NOW) == 0
    assert not is_purged(send)


def test_a_second_run_purges_nothing_more():
    org = OrgFactory(retention_days=1)
    for _ in range(3):
        make_send(org, days_old=2)
    assert purge_expired_sends() == 3  # the beat task
    assert purge_expired_sends() == 0


def test_it_works_in_chunks_of_a_few_statements_whatever_their_size(settings):
    settings.HERALD_RETENTION_CHUNK = 100
    small, large = OrgFactory(retention_days=1), OrgFactory(retention_days=1)
    for _ in range(3):
        make_send(small, days_old=2)
    with CaptureQueriesContext(connection) as few:
        assert sends_purge_expired(now=NOW) == 3
    for _ in range(60):
        make_send(large, days_old=2)
    with CaptureQueriesContext(connection) as many:
        assert sends_purge_expired(now=NOW) == 60
    assert len(many) == len(few)  # set-based: one UPDATE per table per chunk, not one per send


def test_a_large_backlog_goes_chunk_by_chunk(settings):
    settings.HERALD_RETENTION_CHUNK = 4
    org = OrgFactory(retention_days=1)
    for _ in range(10):
        make_send(org, days_old=2)
    assert sends_purge_expired(now=NOW) == 10
    assert not Send.objects.filter(purged_at__isnull=True).exists()


def test_a_run_past_its_time_budget_leaves_the_rest_to_the_next():
    org = OrgFactory(retention_days=1)
    make_send(org, days_old=2)
    assert sends_purge_expired(now=NOW, budget_seconds=0) == 0
    assert sends_purge_expired(now=NOW) == 1


def test_the_purge_runs_on_the_beat_schedule():
    entry = django_settings.CELERY_BEAT_SCHEDULE["purge-expired-sends"]
    assert entry["task"] == "privacy.tasks.purge_expired_sends"
    assert entry["task"] == purge_expired_sends.name


def test_a_purged_send_cannot_be_retriggered(api, org):
    org.retention_days = 1
    org.save()
    send = make_send(org, days_old=2)
    sends_purge_expired(now=NOW)
    response = api.post(f"/api/v1/sends/{send.pk}/retrigger/")
    assert response.status_code == 409
    assert response.json()["error"]["problems"][0]["field"] == "id"
    assert Send.objects.count() == 1
    assert api.get(f"/api/v1/sends/{send.pk}/").json()["purged_at"] is not None


def test_events_matched_to_no_send_follow_the_default_retention(settings):
    settings.HERALD_RETENTION_DAYS = 30
    old, recent = (
        DeliveryEvent.objects.create(
            esp_name="Postmark",
            event_type="bounced",
            payload={"Recipient": "ann@example.com"},
            dedupe_key=f"k{days}",
            created_at=NOW - timedelta(days=days),
        )  # fmt: skip
        for days in (31, 29)
    )
    sends_purge_expired(now=NOW)
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.payload is None and recent.payload is not None
