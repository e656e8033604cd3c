"""Idempotency-Key on the native API's writes other than triggers (tests/campaigns/test_idempotency.py)."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from mailings.models import Mailing
from orgs.models import IdempotentRequest
from orgs.services import idempotent_requests_purge, org_create
from recipients.models import Recipient
from sends.models import Send
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db
RECIPIENT = {"email": "ann@example.com", "first_name": "Ann"}


def test_a_retried_create_answers_the_first_response_and_creates_nothing(api):
    first = api.post("/api/v1/recipients/", RECIPIENT, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    again = api.post("/api/v1/recipients/", RECIPIENT, format="json", HTTP_IDEMPOTENCY_KEY="r-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Recipient.objects.count() == 1


def test_the_same_key_with_another_body_is_a_conflict_that_names_the_header(api):
    api.post("/api/v1/recipients/", RECIPIENT, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    other = api.post(
        "/api/v1/recipients/",
        {**RECIPIENT, "email": "bob@example.com"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="r-1",
    )

    assert other.status_code == 409
    assert other.json()["error"]["problems"][0]["field"] == "Idempotency-Key"
    assert list(Recipient.objects.values_list("email", flat=True)) == ["ann@example.com"]


def test_a_refused_write_keeps_no_answer_so_the_corrected_request_may_reuse_the_key(api):
    refused = api.post("/api/v1/recipients/", {"email": "nope"}, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    corrected = api.post("/api/v1/recipients/", RECIPIENT, format="json", HTTP_IDEMPOTENCY_KEY="r-1")

    assert refused.status_code == 400
    assert corrected.status_code == 201
    assert Recipient.objects.count() == 1


def test_keys_are_per_org(api, other_api):
    mine = api.post("/api/v1/recipients/", RECIPIENT, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    theirs = other_api.post("/api/v1/recipients/", RECIPIENT, format="json", HTTP_IDEMPOTENCY_KEY="r-1")

    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]


def test_a_retried_retrigger_makes_one_new_send(api, campaign):
    trigger = {"recipients": [{"email": "a@example.com"}], "context": {"order_number": 1}}
    send_id = api.post(f"/api/v1/campaigns/{campaign.key}/trigger/", trigger, format="json").json()["sends"][
        0
    ]["id"]
    url = f"/api/v1/sends/{send_id}/retrigger/"

    first = api.post(url, format="json", HTTP_IDEMPOTENCY_KEY="again-1")
    again = api.post(url, format="json", HTTP_IDEMPOTENCY_KEY="again-1")

    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert Send.objects.filter(retriggered_from_id=send_id).count() == 1


def test_a_retried_delete_answers_204_again(api, org):
    recipient = api.post("/api/v1/recipients/", RECIPIENT, format="json").json()

    first = api.delete(f"/api/v1/recipients/{recipient['id']}/", HTTP_IDEMPOTENCY_KEY="d-1")
    again = api.delete(f"/api/v1/recipients/{recipient['id']}/", HTTP_IDEMPOTENCY_KEY="d-1")

    assert first.status_code == again.status_code == 204


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_an_empty_or_overlong_key_is_refused_and_nothing_is_written(api, key):
    response = api.post("/api/v1/recipients/", RECIPIENT, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 400
    assert response.json()["error"]["problems"][0]["field"] == "Idempotency-Key"
    assert not Recipient.objects.exists()


def test_answers_older_than_the_retention_are_purged(org, settings):
    settings.HERALD_IDEMPOTENCY_HOURS = 48
    old = IdempotentRequest.objects.create(
        org=org, key="old", fingerprint="x", status_code=201, created_at=timezone.now() - timedelta(hours=49)
    )
    recent = IdempotentRequest.objects.create(
        org=org,
        key="recent",
        fingerprint="x",
        status_code=201,
        created_at=timezone.now() - timedelta(hours=47),
    )

    assert idempotent_requests_purge() == 1
    assert list(IdempotentRequest.objects.all()) == [recent]
    assert not IdempotentRequest.objects.filter(pk=old.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_with_one_key_create_exactly_one_mailing():
    org, _ = org_create(name="Shop")
    body = {"name": "Welcome", "channel": "email", "subject": "Hi", "text": "Hello"}
    barrier = threading.Barrier(6)
    answers: list[tuple[int, dict]] = []

    def post() -> None:
        client = api_client_for(org)
        barrier.wait()
        response = client.post("/api/v1/mailings/", body, format="json", HTTP_IDEMPOTENCY_KEY="m-1")
        answers.append((response.status_code, response.json()))
        connection.close()

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [status for status, _ in answers] == [201] * 6
    assert all(answer == answers[0][1] for _, answer in answers)
    assert Mailing.objects.count() == 1


def test_a_reused_key_with_a_body_that_cannot_be_read_is_that_error_not_a_replay(api):
    api.post("/api/v1/recipients/", RECIPIENT, format="json", HTTP_IDEMPOTENCY_KEY="r-1")

    response = api.post(
        "/api/v1/recipients/", "email=ann", content_type="text/plain", HTTP_IDEMPOTENCY_KEY="r-1"
    )

    assert response.status_code == 415
    assert Recipient.objects.count() == 1


def test_the_same_key_on_another_query_is_a_conflict_not_a_replay(api):
    recipient = api.post("/api/v1/recipients/", RECIPIENT, format="json").json()
    url = f"/api/v1/recipients/{recipient['id']}/"

    api.delete(f"{url}?erase=false", HTTP_IDEMPOTENCY_KEY="d-1")
    response = api.delete(f"{url}?erase=true", HTTP_IDEMPOTENCY_KEY="d-1")

    assert response.status_code == 409
