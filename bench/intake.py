"""2. Intake: how long the web tier takes to answer a trigger, natively and in each vendor dialect.

Each request carries recipients new to Herald (trigger launch can only name existing profiles, so it is
compared with a native request naming the same, now existing, recipients; Marketing Cloud takes one
recipient a request, so it is compared with a native single-recipient trigger). Kinds are interleaved
round by round so that noise on the shared machine falls on all of them alike. No worker runs meanwhile:
this is the request alone; end-to-end throughput (3) measures intake while the worker dispatches.
"""

import json
import statistics
import time
from dataclasses import dataclass, field

import requests

from bench import workload
from bench.system import Web
from bench.tenant import Tenant

BATCH = 1000


@dataclass
class IntakeResult:
    durations: dict[str, list[float]] = field(default_factory=dict)

    def add(self, kind: str, seconds: float) -> None:
        self.durations.setdefault(kind, []).append(seconds)

    def median(self, kind: str) -> float:
        return statistics.median(self.durations[kind])


class Client:
    def __init__(self, web: Web, tenant: Tenant):
        self.url = web.url
        self.tenant = tenant
        self.session = requests.Session()
        self.mc_token = self._marketing_cloud_token()

    def timed(self, method: str, path: str, body: bytes, headers: dict, expect: int) -> float:
        start = time.perf_counter()
        response = self.session.request(method, self.url + path, data=body, headers=headers, timeout=60)
        elapsed = time.perf_counter() - start
        if response.status_code != expect:
            raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.text[:500]}")
        return elapsed

    def native(self, tag: str, start: int, count: int) -> float:
        path = f"/api/v1/campaigns/{self.tenant.campaign_key}/trigger/"
        return self.timed(
            "POST", path, workload.native_trigger(tag, start, count), self.tenant.auth, expect=202
        )

    def message_central(self, tag: str, start: int, count: int) -> float:
        body = [
            {
                "email": workload.email(tag, i),
                "firstname": workload.first_name(i),
                "context": workload.context_for(tag, i),
            }
            for i in range(start, start + count)
        ]
        path = f"/v3.7/mailing/trigger?orgid={self.tenant.org_id}&mid={self.tenant.campaign_id}"
        return self.timed("POST", path, _json(body), self.tenant.auth, expect=200)

    def parcellab(self, tag: str, start: int, count: int) -> float:
        # parcelLab's placeholders are scalars: the items list has no place there.
        context = workload.context_for(tag, start)
        body = {
            "to": [
                {"address": workload.email(tag, i), "name": f"{workload.first_name(i)} Example"}
                for i in range(start, start + count)
            ],
            "channel": "email",
            "message": self.tenant.campaign_key,
            "placeholders": [
                {"name": name, "value": context[name]}
                for name in ("order_number", "total", "delivery_date", "tracking_url")
            ],
        }
        headers = {"user": str(self.tenant.org_id), "token": self.tenant.token}
        return self.timed("POST", "/v2/trigger-message", _json(body), headers, expect=202)

    def trigger_launch(self, tag: str, start: int, count: int) -> float:
        emails = [workload.email(tag, i) for i in range(start, start + count)]
        body = {
            "token": self.tenant.token,
            "id": self.tenant.campaign_id,
            "custom_request": {"email": {"$in": emails}},
            "content": workload.context_for(tag, start),
        }
        path = "/api/v1.1/campaigns/triggers/start/"
        return self.timed("POST", path, _json(body), {"Content-Type": "application/json"}, expect=200)

    def marketing_cloud(self, tag: str, i: int) -> float:
        body = {
            "To": {
                "Address": workload.email(tag, i),
                "ContactAttributes": {"SubscriberAttributes": workload.context_for(tag, i)},
            }
        }
        path = f"/messaging/v1/messageDefinitionSends/key:{self.tenant.campaign_key}/send"
        headers = {"Authorization": f"Bearer {self.mc_token}", "Content-Type": "application/json"}
        return self.timed("POST", path, _json(body), headers, expect=202)

    def _marketing_cloud_token(self) -> str:
        body = {
            "grant_type": "client_credentials",
            "client_id": str(self.tenant.org_id),
            "client_secret": self.tenant.token,
        }
        response = self.session.post(f"{self.url}/v2/token", json=body, timeout=30)
        response.raise_for_status()
        return response.json()["access_token"]


def _json(value) -> bytes:
    return json.dumps(value).encode()


def run(web: Web, tenant: Tenant, *, rounds: int, singles: int, warmup: int = 3) -> IntakeResult:
    client = Client(web, tenant)
    result = IntakeResult()
    scratch = IntakeResult()  # warm-up: every gunicorn worker compiles, connects and caches first
    for r in range(-warmup, rounds):
        into = scratch if r < 0 else result
        tag = f"in{r + warmup}"
        into.add("native 1,000 new", client.native(tag, 0, BATCH))
        into.add("native 1,000 existing", client.native(tag, 0, BATCH))
        into.add("trigger launch v1.1", client.trigger_launch(tag, 0, BATCH))
        into.add("message central v3.7", client.message_central(tag, BATCH, BATCH))
        into.add("parcelLab", client.parcellab(tag, 2 * BATCH, BATCH))
    for i in range(-4 * web.workers, singles):
        into = scratch if i < 0 else result
        into.add("native 1", client.native("one", i + 4 * web.workers, 1))
        into.add("marketing cloud 1", client.marketing_cloud("mc", i + 4 * web.workers))
    return result
