"""The admin index's dashboard: sends per status per day, failure rates, the queue, dispatch progress."""

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from sends.models import Send, Trigger
from tests.factories import CampaignFactory, MembershipFactory

pytestmark = pytest.mark.django_db
Status = Send.Status


@pytest.fixture(autouse=True)
def _uncached(settings):
    settings.HERALD_DASHBOARD_CACHE_SECONDS = 0


@pytest.fixture
def make_sends(org, campaign):
    def make(count: int = 1, **fields) -> list[Send]:
        defaults = dict(org=org, campaign=campaign, mailing=campaign.email_mailing, channel="email",
                        to_address="ada@example.com")  # fmt: skip
        return Send.objects.bulk_create([Send(**{**defaults, **fields}) for _ in range(count)])

    return make


def dashboard(client):
    response = client.get("/admin/")
    assert response.status_code == 200
    return response.content.decode(), response.context["dashboard"]


def test_the_chart_counts_sends_per_status_per_day_for_14_days(admin_client, make_sends):
    now = timezone.now()
    make_sends(3, status=Status.SENT)
    make_sends(2, status=Status.FAILED, created_at=now - timedelta(days=2))
    make_sends(5, status=Status.SENT, created_at=now - timedelta(days=20))  # outside the window
    content, shown = dashboard(admin_client)
    assert len(shown.days) == 14
    assert shown.per_day[shown.days[-1]] == {"sent": 3}
    assert shown.per_day[shown.days[-3]] == {"failed": 2}
    assert sum(sum(day.values()) for day in shown.per_day.values()) == 5
    svg = re.search(r"<svg viewBox.*?</svg>", content, re.S).group(0)
    assert f"<title>{shown.days[-1].isoformat()}: 3 sent</title>" in svg
    assert "<script" not in content.split('id="herald-dashboard"')[1].split("</section>")[0]


def test_failure_rates_are_per_campaign_worst_first(admin_client, org, make_sends):
    flaky = CampaignFactory(org=org, key="flaky")
    make_sends(3, status=Status.SENT)
    make_sends(1, status=Status.FAILED)
    make_sends(1, campaign=flaky, mailing=flaky.email_mailing, status=Status.BOUNCED)
    make_sends(1, campaign=flaky, mailing=flaky.email_mailing, status=Status.DELIVERED)
    _, shown = dashboard(admin_client)
    assert [(c.campaign, c.sends, c.failed) for c in shown.campaigns] == [
        ("flaky", 2, 1), ("order-completed", 4, 1)]  # fmt: skip


def test_the_queue_shows_its_depth_and_oldest_sends_age_and_says_when_it_is_stuck(
    admin_client, make_sends, settings
):
    settings.HERALD_LEASE_SECONDS = 300
    make_sends(2, status=Status.QUEUED, queued_at=timezone.now() - timedelta(seconds=30))
    content, shown = dashboard(admin_client)
    assert shown.queued == 2
    assert 30 <= shown.oldest_queued_seconds < 300
    assert not shown.stuck

    make_sends(1, status=Status.QUEUED, queued_at=timezone.now() - timedelta(minutes=20))
    content, shown = dashboard(admin_client)
    assert shown.queued == 3 and shown.stuck
    assert "is a worker running?" in content


def test_a_large_trigger_shows_a_progress_bar_while_it_dispatches(
    admin_client, org, campaign, make_sends, settings
):
    settings.HERALD_DASHBOARD_PROGRESS_MIN = 10
    big = Trigger.objects.create(org=org, campaign=campaign, send_count=10)
    small = Trigger.objects.create(org=org, campaign=campaign, send_count=2)
    make_sends(6, trigger=big, status=Status.SENT)
    make_sends(4, trigger=big, status=Status.QUEUED)
    make_sends(2, trigger=small, status=Status.QUEUED)
    content, shown = dashboard(admin_client)
    [progress] = shown.progress
    assert (progress.trigger, progress.done, progress.total, progress.percent) == (big, 6, 10, 60)
    assert '<progress class="herald-progress" max="10" value="6">' in content

    Send.objects.filter(trigger=big).update(status=Status.SENT)
    _, shown = dashboard(admin_client)
    assert shown.progress == [], "a finished trigger has no bar"


def test_the_dashboard_is_cached_for_a_while(admin_client, make_sends, settings):
    settings.HERALD_DASHBOARD_CACHE_SECONDS = 60
    make_sends(1, status=Status.SENT)
    _, first = dashboard(admin_client)
    make_sends(1, status=Status.SENT)
    _, second = dashboard(admin_client)
    assert sum(second.per_day[second.days[-1]].values()) == 1, "the daily counts come from the cache"
    assert second.queued == first.queued == 0


def test_staff_without_the_send_log_see_no_dashboard(client, django_user_model, make_sends):
    clerk = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    client.force_login(clerk)
    response = client.get("/admin/")
    assert response.status_code == 200
    assert 'id="herald-dashboard"' not in response.content.decode()


def test_past_days_stay_cached_longer_than_today(admin_client, admin_user, make_sends, settings):
    settings.HERALD_DASHBOARD_CACHE_SECONDS = 60
    _, first = dashboard(admin_client)
    today, three_days_ago = first.days[-1], first.days[-4]
    cache.delete(f"herald:dashboard:all:{today.isoformat()}")  # today's counts expire first
    make_sends(1, status=Status.SENT)
    make_sends(1, status=Status.SENT, created_at=timezone.now() - timedelta(days=3))
    _, second = dashboard(admin_client)
    assert second.per_day[today] == {"sent": 1}
    assert second.per_day[three_days_ago] == {}, "a past day is counted again only after PAST_DAY_SECONDS"


def test_a_triggers_page_shows_how_far_its_dispatch_has_got(admin_client, org, campaign, make_sends):
    trigger = Trigger.objects.create(org=org, campaign=campaign, send_count=5)
    make_sends(3, trigger=trigger, status=Status.SENT)
    make_sends(2, trigger=trigger, status=Status.QUEUED)
    content = admin_client.get(f"/admin/sends/trigger/{trigger.pk}/change/").content.decode()
    assert '<progress class="herald-progress" max="5" value="3">' in content
    assert "3 of 5 done" in content
    assert f"?trigger__id__exact={trigger.pk}&amp;status__exact=queued" in content
    queued = admin_client.get(
        "/admin/sends/send/", {"trigger__id__exact": trigger.pk, "status__exact": "queued"}
    )
    assert len(queued.context["cl"].result_list) == 2


def test_a_member_counts_only_their_orgs_sends(client, org, other_org, campaign, make_sends):
    make_sends(2, status=Status.SENT)
    theirs = CampaignFactory(org=other_org)
    make_sends(3, status=Status.FAILED, org=other_org, campaign=theirs, mailing=theirs.email_mailing)
    client.force_login(MembershipFactory(org=org, role="support").user)

    _, shown = dashboard(client)

    assert shown.per_day[shown.days[-1]] == {Status.SENT: 2}
    assert [c.campaign for c in shown.campaigns] == [campaign.key]
