import threading

import pytest
from django.db import connection

from orgs.services import org_create
from sends.models import Send, Trigger
from tests.conftest import api_client_for
from tests.factories import CampaignFactory


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_idempotency_key_create_exactly_one_trigger():
    org, _ = org_create(name="Shop")
    CampaignFactory(org=org, key="order-completed")
    body = {"recipients": [{"email": f"r{i}@example.com"} for i in range(50)]}
    barrier = threading.Barrier(6)
    answers: list[tuple[int, dict]] = []

    def post() -> None:
        client = api_client_for(org)
        barrier.wait()
        response = client.post(
            "/api/v1/campaigns/order-completed/trigger/", body, format="json", HTTP_IDEMPOTENCY_KEY="order-1"
        )
        answers.append((response.status_code, response.json()))
        connection.close()

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [status for status, _ in answers] == [202] * 6
    assert len({body["trigger"] for _, body in answers}) == 1
    assert all(body == answers[0][1] for _, body in answers)
    assert Trigger.objects.count() == 1
    assert Send.objects.count() == 50
