"""7g. Failover: an org's two providers, each a Postmark stand-in answering after 100 ms behind Anymail's
real backend. The same run twice, both providers up, then the first down (every call a 500): how much
later the sends end, at p99 from accepted to sent, once the circuit has opened."""

import statistics
from dataclasses import dataclass

from django.conf import settings
from django.db.models import F

from bench import system, throughput
from bench.provider import CHUNK, IN_FLIGHT, StandIn
from bench.tenant import tenant_create
from orgs.models import Org
from providers.services import provider_create
from sends.models import Send

DELAY_MS = 100


@dataclass
class FailoverResult:
    n: int
    p99_up: float
    p99_down: float
    rate_up: float
    rate_down: float
    primary_failures: int
    complete: bool

    @property
    def added(self) -> float:
        return self.p99_down - self.p99_up


def _p99(org_id: int) -> float:
    waits = (
        Send.objects.filter(org_id=org_id, status=Send.Status.SENT)
        .annotate(wait=F("sent_at") - F("created_at"))
        .values_list("wait", flat=True)
    )
    seconds = [w.total_seconds() for w in waits]
    return statistics.quantiles(seconds, n=100, method="inclusive")[98] if len(seconds) > 1 else 0.0


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
        timeout = max(120, n / 20)
        up = _tenant("failover, both up", [primary.url, backup.url])
        before = throughput.run(web, worker, up, n, timeout=timeout)
        primary.configure(delay_ms=DELAY_MS, fail_500=1.0)
        down = _tenant("failover, first down", [primary.url, backup.url])
        during = throughput.run(web, worker, down, n, timeout=timeout)
        failures = primary.stats()["by_status"].get("500", 0)
        return FailoverResult(
            n, _p99(up.org_id), _p99(down.org_id), before.rate, during.rate, failures,
            before.complete and during.complete,
        )  # fmt: skip
    finally:
        if worker is not None:
            worker.stop()
        primary.stop()
        backup.stop()
