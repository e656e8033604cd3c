"""Issue #17: bad input never becomes a 500, and nothing stored can break a read."""

import threading
import time

import pytest
from django.core.mail import BadHeaderError
from rest_framework.test import APIClient

from core.wire import JSONRenderer
from dispatch.channels import PermanentFailure, classify
from mailings.models import Mailing
from mailings.rendering import RenderError, render_string
from recipients.models import Recipient
from sends.models import Trigger
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def problems(response) -> dict:
    return {p["field"]: p["message"] for p in response.json()["error"]["problems"]}


@pytest.mark.parametrize("levels", [2_000, 10_000])
def test_deeply_nested_json_is_a_400_and_stores_nothing(api, campaign, levels):
    for path, body in [
        ("/api/v1/recipients/", '{"email": "a@example.com", "attributes": {"x": ' + deep(levels) + "}}"),
        ("/api/v1/mailings/", '{"name": "M", "sample_context": {"x": ' + deep(levels) + "}}"),
        (f"/api/v1/campaigns/{campaign.key}/trigger/",
         '{"recipients": [{"email": "a@example.com"}], "context": {"x": ' + deep(levels) + "}}"),
    ]:  # fmt: skip
        response = api.post(path, body, content_type="application/json")
        assert response.status_code == 400, path
        assert response.json()["error"]["problems"], path
    assert not Recipient.objects.exists() and not Trigger.objects.exists()


@pytest.mark.parametrize("attributes", ['{"\\ud800": "x"}', '{"x": "\\ud800"}', '{"x": "a\\u0000b"}'])
def test_lone_surrogates_and_nul_are_refused_naming_the_field(api, attributes):
    body = '{"email": "a@example.com", "attributes": ' + attributes + "}"
    response = api.post("/api/v1/recipients/", body, content_type="application/json")
    assert response.status_code == 400
    assert any(field.startswith("attributes.") for field in problems(response))
    assert not Recipient.objects.exists()
    assert api.get("/api/v1/recipients/").status_code == 200


def test_a_mailings_sample_context_and_a_triggers_locale_refuse_them_too(api, campaign):
    body = '{"name": "M", "sample_context": {"a": "\\ud800"}}'
    assert api.post("/api/v1/mailings/", body, content_type="application/json").status_code == 400
    body = '{"recipients": [{"email": "a@example.com"}], "locale": "de\\u0000"}'
    response = api.post(f"/api/v1/campaigns/{campaign.key}/trigger/", body, content_type="application/json")
    assert response.status_code == 400 and "locale" in problems(response)
    assert not Trigger.objects.exists()


def test_a_stored_lone_surrogate_does_not_break_a_read(api, org):
    recipient = Recipient.objects.create(org=org, email="a@example.com", attributes={"x": "ok"})
    # PostgreSQL cannot hold one; a row from elsewhere (SQLite, an older Herald) may: escaped, it reads.
    assert JSONRenderer().render({"x": "\ud800"}) == b'{"x":"\\ud800"}'
    assert api.get(f"/api/v1/recipients/{recipient.pk}/").status_code == 200


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("send_at", "0001-01-01T00:00:00+14:00"),
        ("send_at", "9999-12-31T23:59:59-23:59"),
        ("send_at", "9999-01-01T00:00:00Z"),
        ("expires_at", "9999-01-01T00:00:00Z"),
    ],
)
def test_out_of_range_dates_are_a_400(api, campaign, field, value):
    body = {"recipients": [{"email": "a@example.com"}], field: value}
    response = api.post(f"/api/v1/campaigns/{campaign.key}/trigger/", body, format="json")
    assert response.status_code == 400 and field in problems(response)
    assert not Trigger.objects.exists()


def test_a_campaign_delay_is_capped_as_a_triggers_is(api, org, campaign):
    body = {"key": "later", "name": "Later", "email_mailing": campaign.email_mailing_id,
            "delay_seconds": 1_000_000_000_000_000}  # fmt: skip
    assert api.post("/api/v1/campaigns/", body, format="json").status_code == 400
    stored = CampaignFactory(
        org=org, key="stored-before", delay_seconds=2_000_000_000
    )  # stored before the cap
    response = api.post(
        f"/api/v1/campaigns/{stored.key}/trigger/",
        {"recipients": [{"email": "a@example.com"}]},
        format="json",
    )
    assert response.status_code == 400 and "campaign" in problems(response)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("from_email", "a@b.co\r\nBcc: x@y.co"),
        ("reply_to", "a@b.co\r\nBcc: x@y.co"),
        ("from_email", "not an email"),
        ("name", "M\r\nX-Injected: 1"),
        ("default_locale", "../../etc/passwd"),
    ],
)
def test_mailing_senders_names_and_locales_are_checked(api, field, value):
    response = api.post("/api/v1/mailings/", {"name": "M", field: value}, format="json")
    assert response.status_code == 400 and field in problems(response)
    assert not Mailing.objects.exists()


def test_a_good_sender_with_a_display_name_is_taken(api):
    body = {"name": "M", "from_email": '"Shop, Berlin" <shop@example.com>', "reply_to": "help@example.com"}
    assert api.post("/api/v1/mailings/", body, format="json").status_code == 201


@pytest.mark.parametrize(
    ("field", "value"), [("first_name", "A\r\nB"), ("external_id", "x\ny"), ("locale", "../../etc/passwd")]
)
def test_recipient_names_ids_and_locales_are_checked(api, field, value):
    response = api.post("/api/v1/recipients/", {"email": "a@example.com", field: value}, format="json")
    assert response.status_code == 400 and field in problems(response)
    assert not Recipient.objects.exists()


def test_a_message_that_cannot_be_built_is_a_permanent_failure():
    assert isinstance(classify(BadHeaderError("Header values can't contain newlines")), PermanentFailure)
    assert isinstance(classify(ValueError('Invalid address "not an email"')), PermanentFailure)


def test_a_batch_over_the_limit_answers_briefly(api, campaign):
    body = {"recipients": [{"email": f"r{i}@example.com"} for i in range(100_000)]}
    response = api.post(f"/api/v1/campaigns/{campaign.key}/trigger/", body, format="json")
    assert response.status_code == 400
    assert len(response.content) < 5_000
    assert not Trigger.objects.exists()


def test_failed_authentication_is_throttled_per_address(settings, org):
    settings.HERALD_AUTH_FAILURES_PER_MINUTE = 5
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    statuses = [client.get("/api/v1/recipients/").status_code for _ in range(7)]
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429]
    assert int(client.get("/api/v1/recipients/")["Retry-After"]) > 0
    dialect = client.post("/v2/trigger-message", {}, format="json", HTTP_USER="1", HTTP_TOKEN="bad")
    assert dialect.status_code == 429


def test_render_limits_hold_off_the_main_thread(settings):
    settings.HERALD_TEMPLATE_TIME_LIMIT = 0.5
    source = "{% for a in x %}{% for b in x %}{% for c in x %}.{% endfor %}{% endfor %}{% endfor %}"
    outcome = {}

    def render():
        started = time.monotonic()
        try:
            render_string(source, {"x": list(range(1000))})
        except RenderError as exc:
            outcome["error"] = str(exc)
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=render)
    thread.start()
    thread.join(10)
    assert "error" in outcome and outcome["seconds"] < 2


def test_a_translated_subject_is_one_line_as_the_mailings_own_is(api):
    body = {"name": "M", "translations": {"de": {"subject": "Hallo\r\nBcc: x@example.com", "text": "a\nb"}}}
    response = api.post("/api/v1/mailings/", body, format="json")
    assert response.status_code == 400
    assert list(problems(response)) == ["translations.de.subject"]
    assert not Mailing.objects.exists()
