"""Interactive sends have a queue of their own: a large campaign queued ahead of them does not delay them."""

import pytest

from intake.accept import trigger_accept
from intake.commands import RecipientSpec, TriggerCommand
from orgs.services import org_create
from sends.models import Send
from tests.e2e.conftest import wait_for
from tests.factories import CampaignFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def trigger(campaign, emails: list[str]):
    command = TriggerCommand(
        recipients=[RecipientSpec(email=e) for e in emails], context={"order_number": "Q"}
    )
    return trigger_accept(org=campaign.org, campaign=campaign, command=command)


def test_a_single_trigger_is_sent_before_the_large_campaign_queued_ahead_of_it(worker, settings):
    settings.HERALD_MAX_BATCH = 2000
    org, _ = org_create(name="Shop")
    newsletter = CampaignFactory(org=org, key="newsletter")
    reset = CampaignFactory(org=org, key="password-reset")
    bulk = trigger(newsletter, [f"reader{i}@example.com" for i in range(2000)])  # 20 tasks, queued first
    [single] = trigger(reset, ["ann@example.com"]).sends

    worker.start("--concurrency=1")  # one process: it must choose which queue to serve next
    wait_for(
        lambda: Send.objects.filter(status="sent").count() == 2001, timeout=120, what="all sent",
        log=worker.log,
    )  # fmt: skip

    single.refresh_from_db()
    sent_after_it = Send.objects.filter(trigger=bulk.trigger, sent_at__gt=single.sent_at).count()
    # In one first-in-first-out queue it would go last, after all 2,000.
    assert sent_after_it >= 1500, f"only {sent_after_it} of the campaign's sends went after the single one"
