"""7g. Failover: an org's two providers, each a Postmark stand-in answering after 100 ms behind Anymail's
real backend. The same run twice, both providers up, then the first down (every call a 500): how much
later the sends end, at p99 from due to sent.

Open loop, at a steady 200 sends a second (100-recipient triggers), below what one provider takes (7c):
each send's time is then its own, and the difference is what the outage adds to it. (A bulk run triggered
all at once measured its own length instead: its p99 was its last send, so any change of rate between the
two runs, noise included, showed up as seconds added.)"""

from dataclasses import dataclass

from django.conf import settings

from bench import latency, system
from bench.provider import CHUNK, IN_FLIGHT, StandIn
from bench.tenant import tenant_create
from orgs.models import Org
from providers.services import provider_create

DELAY_MS = 100


# Triggers of 100, each a chunk with its calls in flight together: ten-recipient ones at 20 a second
# would measure instead how many small tasks a process takes a second, each waiting on its own calls.
RATE = 2  # triggers a second
RECIPIENTS = 100
LONGEST = 30  # seconds a phase, at most


@dataclass
class FailoverResult:
    n: int  # sends a phase
    p99_up: float
    p99_down: float
    primary_failures: int
    not_sent: int

    @property
    def added(self) -> float:
        return self.p99_down - self.p99_up

    @property
    def complete(self) -> bool:
        return self.not_sent == 0


def _tenant(name: str, urls: list[str]):
    tenant = tenant_create(name)
    org = Org.objects.get(pk=tenant.org_id)
    for label, url in zip(("Primary", "Backup"), urls, strict=True):
        provider_create(
            org=org, actor=None, kind="postmark", name=label, options={"api_url": url},
            credentials={"server_token": "bench"},
        )  # fmt: skip
    return tenant


def run(web: system.Web, n: int) -> FailoverResult:
    settings.HERALD_PROVIDER_ALLOW_PRIVATE_NETWORKS = True  # the stand-ins listen on loopback
    primary, backup = StandIn(), StandIn()
    worker = None
    try:
        for standin in (primary, backup):
            standin.configure(delay_ms=DELAY_MS)
        worker = system.Worker(
            env={"HERALD_DISPATCH_IN_FLIGHT": str(IN_FLIGHT), "HERALD_CHUNK_SIZE": str(CHUNK)}
        )
        seconds = min(LONGEST, n / (RATE * RECIPIENTS))

        def phase(tenant) -> latency.LatencyResult:
            return latency.run(web, tenant, rate=RATE, seconds=seconds, recipients=RECIPIENTS)

        before = phase(_tenant("failover, both up", [primary.url, backup.url]))
        primary.configure(delay_ms=DELAY_MS, fail_500=1.0)
        during = phase(_tenant("failover, first down", [primary.url, backup.url]))
        return FailoverResult(
            n=round(RATE * seconds) * RECIPIENTS,
            p99_up=before.percentile(before.to_sent, 99),
            p99_down=during.percentile(during.to_sent, 99),
            primary_failures=primary.stats()["by_status"].get("500", 0),
            not_sent=before.not_sent + during.not_sent,
        )
    finally:
        if worker is not None:
            worker.stop()
        primary.stop()
        backup.stop()
