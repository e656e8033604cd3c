import time

import pytest

from sends.models import Send
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db
TRIGGER = "/api/v1/campaigns/order-completed/trigger/"


def _not_at_a_minute_boundary() -> None:
    # The window is the clock's minute: don't let it turn over in the middle of a test.
    if 60 - time.time() % 60 < 3:
        time.sleep(60 - time.time() % 60 + 0.1)


def test_an_org_over_its_rate_limit_gets_429_with_retry_after(org, other_org, api, other_api):
    org.rate_limit_per_minute = 3
    org.save()
    _not_at_a_minute_boundary()
    assert [api.get("/api/v1/sends/").status_code for _ in range(3)] == [200, 200, 200]
    response = api.get("/api/v1/sends/")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert response.json()["error"]["code"] == "throttled"
    assert other_api.get("/api/v1/sends/").status_code == 200, "other orgs have their own count"


def test_the_limit_counts_every_token_of_the_org(org):
    org.rate_limit_per_minute = 2
    org.save()
    _not_at_a_minute_boundary()
    first, second = api_client_for(org), api_client_for(org)
    assert first.get("/api/v1/sends/").status_code == 200
    assert second.get("/api/v1/sends/").status_code == 200
    assert first.get("/api/v1/sends/").status_code == 429


def test_a_body_over_the_size_limit_is_413_before_anything_is_stored(api, campaign, settings):
    settings.HERALD_MAX_REQUEST_BYTES = 1000
    body = {"recipients": [{"email": f"r{i}@example.com"} for i in range(100)]}
    response = api.post(TRIGGER, body, format="json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert not Send.objects.exists()


@pytest.mark.parametrize("field", ["first_name", "last_name", "external_id"])
def test_line_breaks_in_names_are_refused(api, campaign, field):
    response = api.post(
        TRIGGER,
        {"recipients": [{"email": "a@example.com", field: "Ann\r\nBcc: everyone@example.com"}]},
        format="json",
    )
    assert response.status_code == 400
    [problem] = response.json()["error"]["problems"]
    assert problem == {"field": f"recipients[0].{field}", "message": "Must not contain line breaks."}
    assert not Send.objects.exists()
