"""A cancel racing real worker processes: every send is dispatched or cancelled, never both, never neither."""

import pytest

from orgs.services import org_create
from sends.models import Send, Trigger
from sends.services import triggers_cancel
from tests.e2e.conftest import dispatches_per_send, wait_for
from tests.e2e.test_faults import accept
from tests.factories import CampaignFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_cancel_in_the_middle_of_dispatch_takes_exactly_the_sends_no_worker_claimed(worker, settings):
    settings.HERALD_MAX_BATCH = 2000
    org, _ = org_create(name="Shop")
    campaign = CampaignFactory(org=org, key="order-completed")
    accept(campaign, 2000, "c")
    worker.start("--concurrency=2", HERALD_DISPATCH_IN_FLIGHT="4")
    wait_for(lambda: Send.objects.filter(status="sent").count() >= 200, timeout=60,
             what="dispatch to be under way", log=worker.log)  # fmt: skip

    done = triggers_cancel(triggers=Trigger.objects.filter(org=org))

    wait_for(lambda: not Send.objects.filter(status__in=["queued", "sending", "scheduled"]).exists(),
             timeout=60, what="the chunks in flight to finish", log=worker.log)  # fmt: skip
    assert 0 < done.cancelled < 2000, "the cancel came after dispatch had ended, or before it began"
    cancelled = {
        str(c) for c in Send.objects.filter(status="cancelled").values_list("correlation_id", flat=True)
    }
    sent = {str(c) for c in Send.objects.filter(status="sent").values_list("correlation_id", flat=True)}
    dispatched = dispatches_per_send(worker.outbox)
    assert len(cancelled) == done.cancelled
    assert len(cancelled) + len(sent) == 2000
    assert set(dispatched) == sent, "what the provider got is exactly what is recorded sent"
    assert not cancelled & set(dispatched), "a cancelled send reached the provider"
    assert done.gone == 2000 - done.cancelled
