"""3h. Held sends released when their window opens (issue 20).

A campaign's send window opens at the next minute that leaves time for intake; 100,000 sends are
triggered before it, through the API, and held in the database (`scheduled`, with the reason). The clock
starts at the opening and stops at the last send recorded `sent`: the sweep (`manage.py sweep`, run as
production runs it) releasing them and the workers dispatching them, beside the dispatch rate of the
throughput run of the same size, whose sends were queued as they were accepted.
"""

import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from django.db.models import Count, Max, Min
from django.utils import timezone

from bench import workload
from bench.system import Sweeper, Web, Worker
from bench.tenant import Tenant
from campaigns.models import Campaign
from sends.models import Send

BATCH = 1000
CLIENTS = 2
INTAKE_SECONDS_PER_1000 = 0.5  # generous: 2a measures about 0.2 s


@dataclass
class HeldResult:
    n: int
    opening: datetime
    held: int  # sends that were held for the window when it opened
    first_sent: float  # seconds from the opening
    last_sent: float
    statuses: dict[str, int]

    @property
    def complete(self) -> bool:
        return self.statuses.get(Send.Status.SENT, 0) >= self.n and self.held == self.n

    @property
    def rate(self) -> float:
        return self.n / self.last_sent if self.last_sent > 0 else 0.0


def run(web: Web, worker: Worker, tenant: Tenant, n: int, *, timeout: float) -> HeldResult:
    now = timezone.now()
    lead = 10 + INTAKE_SECONDS_PER_1000 * n / 1000
    opening = (now + timedelta(seconds=lead)).replace(second=0, microsecond=0) + timedelta(minutes=1)
    Campaign.objects.filter(pk=tenant.campaign_id).update(
        send_windows=[{"days": opening.strftime("%a").lower(), "start": f"{opening:%H:%M}", "end": "24:00"}]
    )
    url = f"{web.url}/api/v1/campaigns/{tenant.campaign_key}/trigger/"
    bodies = [
        workload.native_trigger(f"held{n}", start, min(BATCH, n - start)) for start in range(0, n, BATCH)
    ]

    def post(body: bytes) -> None:
        response = requests.post(url, data=body, headers=tenant.auth, timeout=120)
        if response.status_code != 202:
            raise RuntimeError(f"trigger answered {response.status_code}: {response.text[:500]}")

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(post, bodies))
    sends = Send.objects.filter(org_id=tenant.org_id)
    held = sends.filter(status=Send.Status.SCHEDULED, scheduled_at=opening).exclude(held="").count()
    sweeper = Sweeper()
    try:
        time.sleep(max(0.0, (opening - timezone.now()).total_seconds()))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and worker.alive():
            if sends.filter(status=Send.Status.SENT).count() >= n:
                break
            time.sleep(0.5)
    finally:
        sweeper.stop()
    times = sends.filter(status=Send.Status.SENT).aggregate(first=Min("sent_at"), last=Max("sent_at"))
    statuses = dict(sends.values_list("status").annotate(n=Count("pk")).order_by())
    since = lambda at: (at - opening).total_seconds() if at else math.inf  # noqa: E731
    return HeldResult(n, opening, held, since(times["first"]), since(times["last"]), statuses)
