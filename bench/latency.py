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
    # Where the slowest trigger's time went: due -> answered, answered -> its last send claimed by a worker,
    # claimed -> sent (render, the provider call, the record), each of the trigger at the p99 of to_sent.
    p99_parts: dict[str, float] | None = None

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
    times = {
        str(c): (claimed.timestamp(), sent.timestamp())
        for c, claimed, sent in sends.filter(status=Send.Status.SENT).values_list(
            "correlation_id", "claimed_at", "sent_at"
        )
    }
    done = [i for i in range(count) if all(c in times for c in correlation[i])]
    to_sent = {i: max(times[c][1] for c in correlation[i]) - due[i] for i in done}
    result = LatencyResult(rate, list(to_sent.values()), list(answered.values()), count - len(done))
    if len(done) >= 2:
        p99 = result.percentile(result.to_sent, 99)
        i = min(done, key=lambda i: abs(to_sent[i] - p99))  # the trigger at the p99
        last = max(correlation[i], key=lambda c: times[c][1])
        claimed, sent = times[last]
        result.p99_parts = {
            "answered": answered[i], "claimed": claimed - due[i] - answered[i], "sent": sent - claimed,
        }  # fmt: skip
    return result
