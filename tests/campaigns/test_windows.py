"""Send windows in the recipient's own time zone: held in the database until the window opens there."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail

from campaigns.windows import next_opening, windows_parse
from dispatch.chunk import sends_dispatch
from sends.models import Send
from tests.factories import RecipientFactory

pytestmark = pytest.mark.django_db
Status = Send.Status
TRIGGER = "/api/v1/campaigns/order-completed/trigger/"
WEEKDAYS_8_TO_20 = [{"days": "mon-sat", "start": "08:00", "end": "20:00"}]


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def opening(windows, zone, at):
    return next_opening(windows_parse(windows), zone, at)


def test_tokyo_and_los_angeles_triggered_at_the_same_instant_each_get_their_own_morning():
    at = utc(2026, 12, 8, 23, 30)  # Wednesday 08:30 in Tokyo; Tuesday 15:30 in Los Angeles
    assert opening(WEEKDAYS_8_TO_20, "Asia/Tokyo", at) is None
    assert opening(WEEKDAYS_8_TO_20, "America/Los_Angeles", at) is None
    late = utc(2026, 12, 9, 5, 0)  # Wednesday 14:00 in Tokyo; Tuesday 21:00 in Los Angeles
    assert opening(WEEKDAYS_8_TO_20, "Asia/Tokyo", late) is None
    assert opening(WEEKDAYS_8_TO_20, "America/Los_Angeles", late) == utc(2026, 12, 9, 16, 0)  # Wed 08:00 PST


def test_sunday_is_skipped_and_a_window_still_open_from_yesterday_in_utc_terms_counts():
    saturday_night = utc(2026, 12, 12, 21, 0)  # Saturday 22:00 in Berlin
    assert opening(WEEKDAYS_8_TO_20, "Europe/Berlin", saturday_night) == utc(2026, 12, 14, 7, 0)  # Monday
    # 00:30 UTC on Saturday is 09:30 on Saturday in Tokyo: the window opened "yesterday" in UTC terms.
    assert opening(WEEKDAYS_8_TO_20, "Asia/Tokyo", utc(2026, 12, 12, 0, 30)) is None


def test_the_berlin_window_opens_at_eight_on_both_sides_of_each_daylight_saving_change():
    # Summer time begins on Sunday 29 March 2026 and ends on Sunday 25 October 2026.
    assert opening(WEEKDAYS_8_TO_20, "Europe/Berlin", utc(2026, 3, 28, 20, 0)) == utc(2026, 3, 30, 6, 0)
    assert opening(WEEKDAYS_8_TO_20, "Europe/Berlin", utc(2026, 10, 24, 19, 0)) == utc(2026, 10, 26, 7, 0)


def test_a_window_in_the_hour_skipped_in_spring_opens_when_the_clock_has_jumped():
    night = [{"days": "sun", "start": "02:30", "end": "04:00"}]
    # 02:30 does not exist in Berlin on 29 March 2026; the window opens at 03:30 CEST, 01:30 UTC.
    assert opening(night, "Europe/Berlin", utc(2026, 3, 28, 12, 0)) == utc(2026, 3, 29, 1, 30)


def test_no_windows_means_any_time():
    assert opening([], "Asia/Tokyo", utc(2026, 12, 13, 3, 0)) is None


# --- through the API -----------------------------------------------------------------------------------


@pytest.fixture
def windowed(campaign):
    campaign.send_windows = WEEKDAYS_8_TO_20
    campaign.save()
    return campaign


def trigger(api, recipients, **fields) -> list[Send]:
    response = api.post(
        TRIGGER, {"recipients": recipients, "context": {"order_number": 1}, **fields}, format="json"
    )
    assert response.status_code == 202, response.content
    return [Send.objects.get(pk=s["id"]) for s in response.json()["sends"]]


@time_machine.travel(utc(2026, 12, 9, 5, 0), tick=False)  # 14:00 in Tokyo, 21:00 the day before in LA
def test_a_trigger_holds_each_recipient_until_the_window_opens_in_their_own_zone(api, windowed):
    tokyo, los_angeles = trigger(api, [
        {"email": "aiko@example.com", "timezone": "Asia/Tokyo"},
        {"email": "lee@example.com", "timezone": "America/Los_Angeles"},
    ])  # fmt: skip
    assert (tokyo.status, tokyo.scheduled_at, tokyo.held) == (Status.QUEUED, None, "")
    assert los_angeles.status == Status.SCHEDULED
    assert los_angeles.scheduled_at == utc(2026, 12, 9, 16, 0)
    assert (
        los_angeles.held
        == "Held for the campaign's send window (mon,tue,wed,thu,fri,sat 08:00-20:00) in America/Los_Angeles."
    )
    assert los_angeles.timezone == "America/Los_Angeles"


@time_machine.travel(utc(2026, 12, 9, 5, 0), tick=False)
def test_the_recipients_stored_zone_then_the_orgs_are_used(api, windowed, org):
    org.timezone = "America/New_York"
    org.save()
    RecipientFactory(org=org, email="stored@example.com", timezone="Asia/Tokyo")
    stored, fallback = trigger(api, [{"email": "stored@example.com"}, {"email": "new@example.com"}])
    assert (stored.status, stored.timezone) == (Status.QUEUED, "Asia/Tokyo")
    assert (fallback.status, fallback.timezone) == (Status.SCHEDULED, "America/New_York")
    assert fallback.scheduled_at == utc(2026, 12, 9, 13, 0)  # 08:00 EST


@time_machine.travel(utc(2026, 12, 9, 5, 0), tick=False)
def test_a_delay_and_a_window_the_later_wins(api, windowed):
    [inside] = trigger(api, [{"email": "a@example.com", "timezone": "Asia/Tokyo"}], delay=3600)
    assert (inside.status, inside.scheduled_at, inside.held) == (Status.SCHEDULED, utc(2026, 12, 9, 6, 0), "")
    # 10 hours on is 00:00 in Tokyo: the window opens at 08:00 there, later than the delay.
    [outside] = trigger(api, [{"email": "b@example.com", "timezone": "Asia/Tokyo"}], delay=10 * 3600)
    assert outside.scheduled_at == utc(2026, 12, 9, 23, 0)
    assert outside.held


@time_machine.travel(utc(2026, 12, 9, 5, 0), tick=False)
def test_a_transactional_critical_campaign_ignores_its_windows(api, windowed):
    windowed.transactional_critical = True
    windowed.save()
    [send] = trigger(api, [{"email": "lee@example.com", "timezone": "America/Los_Angeles"}])
    assert send.status == Status.QUEUED


def test_a_send_that_comes_due_outside_its_window_waits_again_unsent(windowed, make_send):
    send = make_send(timezone="America/Los_Angeles")
    with time_machine.travel(utc(2026, 12, 9, 5, 0), tick=False):
        assert sends_dispatch(send_ids=[send.pk]) == {"scheduled": 1}
    send.refresh_from_db()
    assert (send.status, send.scheduled_at) == (Status.SCHEDULED, utc(2026, 12, 9, 16, 0))
    assert "send window" in send.held
    assert mail.outbox == []


def test_a_bad_zone_on_a_trigger_is_a_400_naming_it_and_stores_nothing(api, windowed):
    response = api.post(TRIGGER, {"recipients": [{"email": "a@example.com", "timezone": "Mars/Olympus"}],
                                  "context": {"order_number": 1}}, format="json")  # fmt: skip
    assert response.status_code == 400
    assert [p["field"] for p in response.json()["error"]["problems"]] == ["recipients[0].timezone"]
    assert not Send.objects.exists()


@pytest.mark.parametrize(
    "windows",
    [
        "mon-fri",
        [{"days": "weekdays", "start": "08:00", "end": "20:00"}],
        [{"days": "mon", "start": "8am", "end": "20:00"}],
        [{"days": "mon", "start": "20:00", "end": "08:00"}],
        [{"days": "mon", "start": "08:00", "end": "24:01"}],
        [{"days": "mon", "start": "08:00", "end": "20:00", "tz": "UTC"}],
    ],
)
def test_bad_windows_are_a_400_naming_send_windows(api, campaign, windows):
    response = api.patch(f"/api/v1/campaigns/{campaign.key}/", {"send_windows": windows}, format="json")
    assert response.status_code == 400
    assert [p["field"] for p in response.json()["error"]["problems"]] == ["send_windows"]
    campaign.refresh_from_db()
    assert campaign.send_windows == []


def test_windows_are_set_and_shown_through_the_api(api, campaign):
    response = api.patch(
        f"/api/v1/campaigns/{campaign.key}/", {"send_windows": WEEKDAYS_8_TO_20}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["send_windows"] == WEEKDAYS_8_TO_20


@time_machine.travel(utc(2026, 12, 9, 5, 0), tick=False)
def test_the_campaign_page_shows_when_a_send_would_go_in_each_zone(admin_client, windowed, org):
    RecipientFactory(org=org, email="lee@example.com", timezone="America/Los_Angeles")
    page = admin_client.get(f"/admin/campaigns/campaign/{windowed.pk}/change/").content.decode()
    assert "UTC: Wed 09 Dec 08:00, when the window opens" in page
    assert "America/Los_Angeles: Wed 09 Dec 08:00, when the window opens" in page


@time_machine.travel(utc(2026, 12, 9, 5, 0), tick=False)
def test_the_campaign_page_answers_for_a_zone_staff_ask_about(admin_client, windowed):
    url = f"/admin/campaigns/campaign/{windowed.pk}/change/"
    page = admin_client.get(url, {"zone": "Asia/Tokyo"}).content.decode()
    assert "Asia/Tokyo: now" in page  # 14:00 on a Wednesday there
    assert 'form="zone-preview"' in page and '<form id="zone-preview" method="get"' in page
    refused = admin_client.get(url, {"zone": "Mars/Olympus"}).content.decode()
    assert "is not an IANA time zone" in refused
    assert "Mars/Olympus:" not in refused
