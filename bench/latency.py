"""4. Latency: a trigger (one recipient, or a few) to `sent`, at a steady rate of triggers per second.

Open loop: request i is due at start + i / rate whatever happened to the ones before, and its latency is
counted from when it was due (so a stall shows up in every request it delays, not in one). The end is the
`sent_at` the worker recorded for the request's last send, found by their correlation ids.
"""

import contextlib
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests

from bench import workload
from bench.system import Web, wait_until
from bench.tenant import Tenant
from sends.models import Send


@dataclass
class LatencyResult:
    rate: float
    to_sent: list[float]  # seconds, due -> sent_at, one per trigger
    answered: list[float]  # seconds, due -> response
    not_sent: int

    @staticmethod
    def percentile(values: list[float], p: float) -> float:
        return statistics.quantiles(values, n=1000, method="inclusive")[round(p * 10) - 1]


def run(web: Web, tenant: Tenant, *, rate: float, seconds: float, recipients: int = 1) -> LatencyResult:
    url = f"{web.url}/api/v1/campaigns/{tenant.campaign_key}/trigger/"
    local = threading.local()
    count = round(rate * seconds)
    due: dict[int, float] = {}
    answered: dict[int, float] = {}
    correlation: dict[int, list[str]] = {}

    def trigger(i: int) -> None:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        body = workload.native_trigger(f"lat{recipients}", i * recipients, recipients)
        response = local.session.post(url, data=body, headers=tenant.auth, timeout=30)
        answered[i] = time.time() - due[i]
        if response.status_code != 202:
            raise RuntimeError(f"trigger answered {response.status_code}: {response.text[:300]}")
        correlation[i] = [send["correlation_id"] for send in response.json()["sends"]]

    start = time.time() + 0.5
    with ThreadPoolExecutor(16) as pool:
        futures = []
        for i in range(count):
            due[i] = start + i / rate
            time.sleep(max(0.0, due[i] - time.time()))
            futures.append(pool.submit(trigger, i))
        for future in futures:
            future.result()

    sends = Send.objects.filter(correlation_id__in=[c for ids in correlation.values() for c in ids])
    total = count * recipients
    with contextlib.suppress(TimeoutError):  # what is not sent by then is counted as not sent
        wait_until(
            lambda: sends.filter(status=Send.Status.SENT).count() >= total, timeout=60, what="latency sends"
        )
    sent_at = {
        str(c): t for c, t in sends.filter(status=Send.Status.SENT).values_list("correlation_id", "sent_at")
    }
    to_sent = [
        max(sent_at[c] for c in correlation[i]).timestamp() - due[i]
        for i in range(count)
        if all(c in sent_at for c in correlation[i])
    ]
    return LatencyResult(rate, to_sent, list(answered.values()), count - len(to_sent))
