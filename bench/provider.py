"""7. Through a real provider's HTTP API: Anymail's Postmark backend and a stand-in that answers late.

The other throughput rows deliver to a backend that answers at once, in the worker's own process. A
real ESP answers in 50-500 ms, and its client (Anymail, requests) costs CPU of its own. Here Herald's
worker and django-post-office both send through Anymail's real Postmark backend to bench/esp_standin.py,
run as a process of its own, at several delays, in the same run. The stand-in counts the requests it
has in flight at once; the worker processes' RSS is sampled throughout. At 100 ms, 10-recipient triggers
arrive while the bulk run dispatches, to a worker of the interactive queue, as docs/operations.md deploys
it: their time to sent says whether they wait behind the bulk run's calls in flight.
"""

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests
from django.conf import settings

from bench import latency, peer, system, throughput
from bench.tenant import tenant_create

# Provider calls in flight per worker process, and sends per chunk: the configuration docs/operations.md
# gives for an HTTP ESP (a chunk's window drains at its end, so a longer chunk keeps the window full).
IN_FLIGHT = 64
CHUNK = 500
PEER_THREADS = 50  # post_office's THREADS_PER_PROCESS, its one setting for a slow provider
INTERACTIVE_DELAY_MS = 100
INTERACTIVE_RECIPIENTS = 10
# 90 triggers, inside the bulk run's 10,000 at 100 ms (about 20 s): a p99 of 20 was the worst of them.
INTERACTIVE_RATE = 6  # triggers a second
INTERACTIVE_SECONDS = 15


@dataclass
class ProviderRun:
    delay_ms: int
    herald: throughput.ThroughputResult
    herald_in_flight: int
    peer: dict
    interactive: latency.LatencyResult | None = None


class StandIn(system.Service):
    def __init__(self):
        self.port = system.free_port()
        argv = [sys.executable, "-m", "bench.esp_standin", "--port", str(self.port)]
        super().__init__("esp-standin", argv, system.service_env())
        self.url = f"http://127.0.0.1:{self.port}/"
        system.wait_until(self._answers, timeout=20, what="the ESP stand-in to listen")

    def _answers(self) -> bool:
        try:
            return requests.get(self.url + "_stats", timeout=1).ok
        except requests.ConnectionError:
            return False

    def configure(self, **settings) -> None:
        requests.post(self.url + "_config", data=json.dumps(settings), timeout=5).raise_for_status()
        requests.post(self.url + "_reset", timeout=5).raise_for_status()

    def stats(self) -> dict:
        return requests.get(self.url + "_stats", timeout=5).json()


def postmark_env(url: str) -> dict[str, str]:
    return {
        "EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend",
        "ANYMAIL_POSTMARK_SERVER_TOKEN": "bench",
        "ANYMAIL_POSTMARK_API_URL": url,
    }


def run(web: system.Web, n: int, peer_n: int, delays: tuple[int, ...]) -> list[ProviderRun]:
    standin = StandIn()
    worker = interactive_worker = None
    try:
        env = {
            **postmark_env(standin.url),
            "HERALD_DISPATCH_IN_FLIGHT": str(IN_FLIGHT),
            "HERALD_CHUNK_SIZE": str(CHUNK),
        }
        worker = system.Worker(env=env)
        interactive_worker = system.Worker(1, queue=settings.HERALD_INTERACTIVE_QUEUE, env=env)
        runs = []
        for delay in delays:
            standin.configure(delay_ms=delay)
            tenant = tenant_create(f"provider {delay} ms")
            interactive = None
            with ThreadPoolExecutor(1) as pool:
                bulk = pool.submit(throughput.run, web, worker, tenant, n, timeout=max(120, n / 20))
                if delay == INTERACTIVE_DELAY_MS:
                    time.sleep(2)  # the bulk run's first triggers are in and dispatching
                    interactive = latency.run(
                        web, tenant_create(f"interactive {delay} ms"), rate=INTERACTIVE_RATE,
                        seconds=INTERACTIVE_SECONDS, recipients=INTERACTIVE_RECIPIENTS,
                    )  # fmt: skip
                herald = bulk.result()
            herald_in_flight = standin.stats()["max_in_flight"]
            standin.configure(delay_ms=delay)
            peer_result = peer.run(peer_n, "latency", extra_env=postmark_env(standin.url))
            peer_result["max_in_flight"] = standin.stats()["max_in_flight"]
            runs.append(ProviderRun(delay, herald, herald_in_flight, peer_result, interactive))
        return runs
    finally:
        for service in (worker, interactive_worker):
            if service is not None:
                service.stop()
        standin.stop()
