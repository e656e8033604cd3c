"""An ESP outage loses nothing (#19): an org's two providers, each a Postmark stand-in that Anymail's real
Postmark backend calls, real worker processes, and the first provider down in the middle of the run."""

import time

import pytest
import redis
from django.db.models import Count

from bench import esp_standin
from orgs.services import org_create
from providers.services import provider_create
from recipients.models import Recipient
from sends.models import Send
from sends.queue import sends_enqueue
from tests.e2e.conftest import wait_for
from tests.factories import CampaignFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
N = 2000
TAIL = 100  # sent after the first provider is back and the circuit's cool-down is over


@pytest.fixture
def stand_ins():
    servers = [esp_standin.start(delay_ms=20) for _ in range(2)]
    yield [server for server, _ in servers], [url for _, url in servers]
    for server, _ in servers:
        server.stop()


def ok_answers(server) -> int:
    return server.stats()["by_status"].get("200", 0)


def test_an_outage_of_the_first_provider_sends_everything_once_and_the_circuit_closes_after(
    worker, stand_ins, settings
):
    (primary, backup), (primary_url, backup_url) = stand_ins
    settings.HERALD_PROVIDER_ALLOW_PRIVATE_NETWORKS = True
    settings.HERALD_CHUNK_SIZE = 50
    org, _ = org_create(name="Shop")
    for name, url in (("Primary", primary_url), ("Backup", backup_url)):
        provider_create(
            org=org, actor=None, kind="postmark", name=name, options={"api_url": url},
            credentials={"server_token": f"token-{name}"},
        )  # fmt: skip
    other_org, _ = org_create(name="Another shop")  # sends through the server's outbox, never theirs
    # The circuits and limits live in Redis under the providers' ids, which a new test database gives again.
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    worker.start(
        REDIS_URL=settings.REDIS_URL, HERALD_CIRCUIT_FAILURES="5", HERALD_CIRCUIT_COOLDOWN_SECONDS="2",
        HERALD_DISPATCH_IN_FLIGHT="8", HERALD_RETRY_BASE_SECONDS="1",
    )  # fmt: skip
    wait_for(lambda: " ready." in worker.log.read_text(), timeout=60, what="worker ready", log=worker.log)

    campaigns = {owner: CampaignFactory(org=owner, key="order-completed") for owner in (org, other_org)}

    def enqueue(owner, n: int, start: int = 0) -> list[Send]:
        campaign = campaigns[owner]
        recipients = Recipient.objects.bulk_create(
            Recipient(org=owner, email=f"r{i}@example.com") for i in range(start, start + n)
        )
        sends = Send.objects.bulk_create(
            Send(org=owner, campaign=campaign, mailing=campaign.email_mailing, recipient=r, channel="email",
                 to_address=r.email, context={"order_number": i})
            for i, r in enumerate(recipients, start)
        )  # fmt: skip
        sends_enqueue(send_ids=[s.pk for s in sends], on_commit=False)
        return sends

    enqueue(org, N)
    enqueue(other_org, 50)
    ours = Send.objects.filter(org=org)

    wait_for(lambda: ours.filter(status="sent").count() >= 300, timeout=120, what="300 sent", log=worker.log)
    primary.configure(fail_500=1.0)  # down: every call answers 500
    wait_for(lambda: ours.filter(status="sent").count() >= 1200, timeout=120, what="1,200 sent",
             log=worker.log)  # fmt: skip
    primary.configure(fail_500=0)  # back
    wait_for(lambda: ours.filter(status="sent").count() == N, timeout=180, what="all sent", log=worker.log)
    # Sends after the cool-down: the first probes the first provider, which answers, and the circuit closes.
    # (Those left when it came back may all go before the cool-down ends, on a fast enough machine.)
    time.sleep(2.5)
    tail = enqueue(org, TAIL, start=N)
    wait_for(lambda: ours.filter(status="sent").count() == N + TAIL, timeout=60, what="the tail sent",
             log=worker.log)  # fmt: skip

    # Every send went out exactly once, on one provider or the other.
    assert ok_answers(primary) + ok_answers(backup) == N + TAIL
    by_provider = dict(ours.order_by().values_list("provider").annotate(n=Count("pk")))
    assert set(by_provider) == {"Primary", "Backup"} and sum(by_provider.values()) == N + TAIL
    assert ok_answers(backup) == by_provider["Backup"] > 0
    # The outage opened the circuit: sends skipped the first provider without calling it ...
    assert ours.filter(failover__contains="circuit open").exists()
    failed_calls = primary.stats()["by_status"].get("500", 0)
    assert 0 < failed_calls < ours.exclude(failover="").count(), "most sends never called the down provider"
    # ... and it closed once the first provider answered again: the tail's last sends went through it.
    tail_sends = ours.filter(pk__in=[s.pk for s in tail]).order_by("-sent_at")
    last = list(tail_sends.values_list("provider", flat=True)[:50])
    assert set(last) == {"Primary"}, last
    # The other org's sends never touched either account (they go on the worker's outbox, in their turn).
    theirs = Send.objects.filter(org=other_org)
    wait_for(lambda: theirs.filter(status="sent").count() == 50, timeout=60, what="the other org's sent",
             log=worker.log)  # fmt: skip
    assert set(Send.objects.filter(org=other_org).values_list("status", "provider")) == {("sent", "")}
