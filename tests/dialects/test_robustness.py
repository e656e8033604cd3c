"""Whatever arrives, every dialect answers in its vendor's shape: never a 500, never an HTML page."""

import time

import pytest
from rest_framework.test import APIClient

from orgs.services import token_create
from sends.models import Send
from tests.factories import CampaignFactory, RecipientFactory

pytestmark = pytest.mark.django_db

GARBAGE = [
    b"",
    b"\xff\xfe\x00garbage",
    b"{",
    b"null",
    b"12",
    b'"text"',
    b'{"a": NaN}',
    b'{"a": Infinity}',
    b'{"a": "\\ud800"}',
    b'{"a": "\\u0000"}',
    b"[" * 50_000 + b"]" * 50_000,
    b'{"a":' * 200 + b"1" + b"}" * 200,
    b'{"to": 5, "To": 5, "rid": {}, "token": [], "id": {}, "fields": "x", "channel": 1}',
]


@pytest.fixture
def endpoints(org) -> list[tuple[str, str, dict]]:
    campaign = CampaignFactory(org=org, key="welcome")
    RecipientFactory(org=org, email="ada@example.com")
    _, secret = token_create(org=org, name="all")
    token = (
        APIClient()
        .post(
            "/v2/token",
            {"grant_type": "client_credentials", "client_id": org.pk, "client_secret": secret},
            format="json",
        )
        .json()["access_token"]
    )
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    parcellab = {"HTTP_USER": str(org.pk), "HTTP_TOKEN": secret}
    marketing_cloud = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    return [
        ("put", f"/v1.0/mailing/trigger?orgid={org.pk}&mid={campaign.pk}", bearer),
        ("post", f"/v3.7/mailing/trigger?orgid={org.pk}&mid={campaign.pk}", bearer),
        ("post", "/api/v1.1/campaigns/triggers/start/", {}),
        ("post", f"/trg/{campaign.link_id}/nobody@example.com", {}),
        ("post", "/v2/trigger-message", parcellab),
        ("put", "/v2/re-trigger-message", parcellab),
        ("post", "/v2/token", {}),
        ("post", "/messaging/v1/messageDefinitionSends/key:welcome/send", marketing_cloud),
    ]


def test_no_body_makes_any_dialect_fail_on_the_server(endpoints):
    client = APIClient()
    for method, path, headers in endpoints:
        for body in GARBAGE:
            started = time.monotonic()
            response = getattr(client, method)(path, body, content_type="application/json", **headers)
            # (Marketing Cloud answers a body without an address with its documented 202.)
            assert response.status_code < 500, (path, body[:40], response.status_code)
            assert response["Content-Type"] == "application/json", (path, body[:40])
            assert time.monotonic() - started < 2, (path, body[:40])
    assert not Send.objects.exists()


def test_a_wrong_method_is_405_in_the_vendors_shape(endpoints):
    client = APIClient()
    for _method, path, headers in endpoints:
        response = client.delete(path, **headers)
        assert response.status_code == 405, path
        assert response["Content-Type"] == "application/json", path


def test_every_dialect_counts_against_the_orgs_rate_limit(org, endpoints):
    secret = endpoints[0][2]["HTTP_AUTHORIZATION"].removeprefix("Bearer ")
    campaign_id = int(endpoints[0][1].rsplit("mid=", 1)[1])
    bodies = {
        "/api/v1.1/campaigns/triggers/start/": {
            "token": secret,
            "id": campaign_id,
            "email": "ada@example.com",
        },
        "/v2/token": {"grant_type": "client_credentials", "client_id": org.pk, "client_secret": secret},
    }
    if 60 - time.time() % 60 < 3:  # the window is the clock's minute: don't let it turn over mid-test
        time.sleep(60 - time.time() % 60 + 0.1)
    org.rate_limit_per_minute = 1
    org.save()
    client = APIClient()
    # Uses up the minute's one request, if the fixture's token request has not already.
    client.get("/api/v1/sends/", HTTP_AUTHORIZATION=f"Bearer {secret}")
    for method, path, headers in endpoints:
        response = getattr(client, method)(path, bodies.get(path, {}), format="json", **headers)
        assert response.status_code == 429, path
        assert 0 < int(response["Retry-After"]) <= 60, path
        assert response["Content-Type"] == "application/json", path
    assert not Send.objects.exists()
