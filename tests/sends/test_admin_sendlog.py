"""The send log as support uses it: one exact search box, a timeline, re-triggers that say how many first."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from dispatch.chunk import sends_dispatch
from sends import admin_sendlog
from sends.models import DeliveryEvent, Send, SendAttempt
from tests import backends
from tests.factories import CampaignFactory
from tests.test_admin import listed, url

pytestmark = pytest.mark.django_db
Status = Send.Status


def search(client, term: str) -> list[Send]:
    return listed(client.get(url("sends_send_changelist"), {"q": term}))


def test_one_search_box_finds_a_send_by_email_phone_correlation_id_or_provider_id(admin_client, make_send):
    ada = make_send(to_address="ada@example.com")
    sms = make_send(channel="sms", to_address="+4915112345678")
    postmark = make_send(
        to_address="bob@example.org", provider_message_id="0a129aee-e1cd-480d-b08d-4f48548ff61d"
    )
    email = make_send(to_address="cy@example.org", provider_message_id="<3f2a@herald.localhost>")

    assert search(admin_client, "Ada@Example.com") == [ada]
    assert search(admin_client, "+49 151 1234 5678") == [sms]
    assert search(admin_client, str(sms.correlation_id)) == [sms]
    assert search(admin_client, str(sms.correlation_id).upper()) == [sms]
    assert search(admin_client, "0a129aee-e1cd-480d-b08d-4f48548ff61d") == [postmark]
    assert search(admin_client, "3f2a@herald.localhost") == [email]
    assert search(admin_client, "<3f2a@herald.localhost>") == [email]
    assert search(admin_client, str(uuid.uuid4())) == []


def test_the_search_box_says_what_it_finds(admin_client, db):
    content = admin_client.get(url("sends_send_changelist")).content.decode()
    assert "own id for the trigger (a correlationId, requestId, reference or Idempotency-Key)" in content
    assert "or a provider message id (exact match)" in content


def test_the_send_page_shows_its_timeline_with_events_attempts_and_retriggers(admin_client, make_send):
    now = timezone.now()
    send = make_send(status=Status.BOUNCED, sent_at=now - timedelta(minutes=5), provider_message_id="pm-1",
                     created_at=now - timedelta(minutes=10), attempts=2)  # fmt: skip
    SendAttempt.objects.create(send=send, number=1, outcome="scheduled", error="Connection reset by peer",
                               at=now - timedelta(minutes=8))  # fmt: skip
    DeliveryEvent.objects.create(send=send, org=send.org, esp_name="Postmark", event_type="bounced",
                                 description="Mailbox full", occurred_at=now - timedelta(minutes=1),
                                 dedupe_key="k1")  # fmt: skip
    again = make_send(retriggered_from=send, created_at=now)

    content = admin_client.get(url("sends_send_change", send.pk)).content.decode()
    timeline = content[content.index('<ol class="herald-timeline">') :]
    timeline = timeline[: timeline.index("</ol>")]
    order = ["Accepted", "Attempt 1: scheduled: Connection reset by peer", "Handed to the provider (pm-1)",
             "bounced (Postmark): Mailbox full", f"Re-triggered as send {again.pk}"]  # fmt: skip
    positions = [timeline.index(entry) for entry in order]
    assert positions == sorted(positions)
    assert url("sends_send_change", again.pk) in timeline


def test_every_attempt_that_went_wrong_is_recorded_and_shown(admin_client, make_send, settings):
    settings.HERALD_MAX_ATTEMPTS = 2
    send = make_send(status=Status.QUEUED)
    backends.script.extend([backends.provider_error(503), backends.provider_error(502)])
    sends_dispatch(send_ids=[send.pk])
    Send.objects.filter(pk=send.pk).update(status=Status.QUEUED)
    sends_dispatch(send_ids=[send.pk])
    send.refresh_from_db()
    assert send.status == Status.FAILED
    assert [(a.number, a.outcome) for a in send.attempt_errors.all()] == [(1, "scheduled"), (2, "failed")]
    content = admin_client.get(url("sends_send_change", send.pk)).content.decode()
    assert content.count("simulated provider error") >= 2


def test_the_retrigger_action_first_says_how_many_will_go(admin_client, make_send):
    failed = [make_send(status=Status.FAILED) for _ in range(3)]
    response = admin_client.post(
        url("sends_send_changelist"),
        {"action": "retrigger", "_selected_action": [s.pk for s in failed]},
    )
    assert response.status_code == 200
    assert "3 sends will go again" in response.content.decode()
    assert not Send.objects.filter(retriggered_from__isnull=False).exists(), "nothing goes before yes"


def test_the_confirmed_retrigger_sends_what_was_selected_across_every_page(admin_client, make_send):
    failed = [make_send(status=Status.FAILED) for _ in range(2)]
    sent = make_send(status=Status.SENT)
    data = {"action": "retrigger", "_selected_action": [failed[0].pk], "select_across": "1"}
    changelist = url("sends_send_changelist") + "?status__exact=failed"
    confirm = admin_client.post(changelist, data)
    assert "2 sends will go again" in confirm.content.decode()
    admin_client.post(changelist, {**data, "post": "yes"})
    originals = Send.objects.filter(retriggered_from__isnull=False).values_list("retriggered_from", flat=True)
    assert sorted(originals) == [failed[0].pk, failed[1].pk]
    assert not sent.retriggers.exists()


def test_retrigger_failed_sends_of_a_campaign_since_counts_then_sends(admin_client, org, campaign, make_send):
    now = timezone.now()
    recent = [make_send(status=Status.FAILED, created_at=now - timedelta(hours=1)) for _ in range(2)]
    make_send(status=Status.FAILED, created_at=now - timedelta(days=3))  # before "since"
    make_send(status=Status.SENT, created_at=now - timedelta(hours=1))  # not failed
    other = CampaignFactory(org=org)
    make_send(campaign=other, status=Status.FAILED, created_at=now - timedelta(hours=1))
    already = make_send(status=Status.FAILED, created_at=now - timedelta(hours=1))
    make_send(retriggered_from=already)

    page = url("sends_send_retrigger_failed")
    since = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    counted = admin_client.get(page, {"campaign": campaign.pk, "since": since})
    assert counted.status_code == 200
    assert "2 failed sends of" in counted.content.decode()
    assert Send.objects.count() == 7, "counting sends nothing"

    response = admin_client.post(page, {"campaign": campaign.pk, "since": since})
    assert response.status_code == 302
    new = Send.objects.filter(retriggered_from__in=recent)
    assert sorted(new.values_list("retriggered_from", flat=True)) == sorted(s.pk for s in recent)
    assert Send.objects.count() == 9

    again = admin_client.post(page, {"campaign": campaign.pk, "since": since})
    assert again.status_code == 302
    assert Send.objects.count() == 9, "a second run re-sends nothing already re-triggered"


def test_retrigger_failed_refuses_a_missing_campaign_or_moment(admin_client, campaign):
    response = admin_client.post(url("sends_send_retrigger_failed"), {"campaign": campaign.pk, "since": ""})
    assert response.status_code == 200
    assert "since" in response.context["form"].errors
    assert not Send.objects.exists()


def test_the_send_list_links_to_retrigger_failed(admin_client, db):
    content = admin_client.get(url("sends_send_changelist")).content.decode()
    assert url("sends_send_retrigger_failed") in content


def test_more_sends_than_a_request_can_build_are_refused_not_half_sent(
    admin_client, campaign, make_send, monkeypatch
):
    monkeypatch.setattr(admin_sendlog, "MAX_RETRIGGER", 2)
    failed = [make_send(status=Status.FAILED) for _ in range(3)]
    response = admin_client.post(
        url("sends_send_changelist"),
        {"action": "retrigger", "_selected_action": [s.pk for s in failed], "post": "yes"},
        follow=True,
    )
    assert "at most 2 at a time" in [str(m) for m in response.context["messages"]][0]
    since = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = admin_client.post(
        url("sends_send_retrigger_failed"), {"campaign": campaign.pk, "since": since}
    )
    assert "at most 2 at a time" in response.context["form"].errors["since"][0]
    assert not Send.objects.filter(retriggered_from__isnull=False).exists()


def test_the_unfiltered_send_log_is_counted_from_the_database_statistics(
    admin_client, make_send, monkeypatch
):
    monkeypatch.setattr(admin_sendlog.EstimatedCountPaginator, "ESTIMATE_ABOVE", 0)
    for _ in range(3):
        make_send()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE sends_send")
    Send.objects.bulk_create(
        [
            Send(**{f: getattr(s, f) for f in ("org_id", "channel", "to_address")})
            for s in Send.objects.all()[:1]
        ]
    )  # one more since the statistics were taken
    unfiltered = admin_client.get(url("sends_send_changelist"))
    assert unfiltered.context["cl"].result_count == 3, "the estimate, not a count of every row"
    assert len(listed(unfiltered)) == 4
    filtered = admin_client.get(url("sends_send_changelist"), {"status__exact": "queued"})
    assert filtered.context["cl"].result_count == 4, "a filtered list is counted exactly"
