"""A frequency cap held across real worker processes claiming at the same time."""

import pytest
from django.utils import timezone

from orgs.services import org_create
from recipients.models import Recipient
from sends.models import Send
from sends.queue import sends_enqueue
from tests.e2e.conftest import dispatches_per_send, wait_for
from tests.factories import CampaignFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_four_worker_processes_claiming_one_recipients_sends_at_once_send_exactly_the_cap(worker):
    org, _ = org_create(name="Shop")
    campaign = CampaignFactory(org=org, key="news", cap_sends=5, cap_period_seconds=3600)
    ada = Recipient.objects.create(org=org, email="ada@example.com")
    now = timezone.now()
    sends = Send.objects.bulk_create(
        Send(org=org, campaign=campaign, mailing=campaign.email_mailing, recipient=ada, channel="email",
             to_address=ada.email, context={"order_number": i}, queued_at=now)
        for i in range(300)
    )  # fmt: skip
    for send in sends:  # a task each: every worker process races for the same recipient
        sends_enqueue(send_ids=[send.pk], on_commit=False)
    worker.start("--concurrency=4")

    wait_for(lambda: not Send.objects.filter(status__in=["queued", "sending"]).exists(), timeout=90,
             what="every send judged", log=worker.log)  # fmt: skip
    statuses = list(Send.objects.values_list("status", flat=True))
    assert statuses.count("sent") == 5
    assert statuses.count("capped") == 295
    assert len(dispatches_per_send(worker.outbox)) == 5
