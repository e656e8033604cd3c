"""3. End-to-end throughput: from the first trigger request to the last send recorded `sent`.

The whole system on this machine: the client posting 1,000-recipient native triggers (two at a time),
gunicorn, PostgreSQL, Redis and the Celery worker, all at once. The clock starts before the first request
and stops at the largest `sent_at` the worker recorded. RSS of every web and worker process is sampled
throughout (6).
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests
from django.db import connection
from django.db.models import Count, Max, Min

from bench import workload
from bench.memory import RssSampler
from bench.system import Web, Worker
from bench.tenant import Tenant
from sends.models import Send

BATCH = 1000
CLIENTS = 2


@dataclass
class ThroughputResult:
    n: int
    elapsed: float  # first request -> last send recorded sent
    intake_elapsed: float  # first request -> last request answered
    dispatch_elapsed: float  # first send recorded sent -> last
    statuses: dict[str, int]
    complete: bool
    sampler: RssSampler
    progress: list[tuple[float, int]] = field(default_factory=list)  # (sampler time, sends sent)
    database: dict[str, int] = field(default_factory=dict)  # PostgreSQL counters over the run

    @property
    def sent(self) -> int:
        return self.statuses.get(Send.Status.SENT, 0)

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed

    def when(self, fraction: float) -> float:
        """Sampler time at which `fraction` of the sends had been recorded sent."""
        return next((at for at, sent in self.progress if sent >= fraction * self.n), self.sampler.duration())

    def rss_growth(self, role: str) -> int:
        """Peak RSS of one process in the last fifth of the run, less its peak in the first fifth."""
        return self.sampler.peak(role, since=self.when(0.8)) - self.sampler.peak(role, until=self.when(0.2))


def run(web: Web, worker: Worker, tenant: Tenant, n: int, *, timeout: float) -> ThroughputResult:
    tag = f"tp{n}"
    bodies = [workload.native_trigger(tag, start, min(BATCH, n - start)) for start in range(0, n, BATCH)]
    url = f"{web.url}/api/v1/campaigns/{tenant.campaign_key}/trigger/"
    sessions: dict[int, requests.Session] = {}

    def post(body: bytes) -> None:
        session = sessions.setdefault(threading.get_ident(), requests.Session())
        response = session.post(url, data=body, headers=tenant.auth, timeout=120)
        if response.status_code != 202:
            raise RuntimeError(f"trigger answered {response.status_code}: {response.text[:500]}")

    sent = Send.objects.filter(org_id=tenant.org_id, status=Send.Status.SENT)
    progress: list[tuple[float, int]] = []
    before = pg_counters()
    with RssSampler({"web": web, "worker": worker}) as sampler:
        start = time.time()
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(post, bodies))
        intake_elapsed = time.time() - start
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            count = sent.count()
            progress.append((sampler.duration(), count))
            if count >= n or not worker.alive():
                break
            time.sleep(0.5)
    time.sleep(1.5)  # PostgreSQL backends publish their statistics at most once a second
    after = pg_counters()
    sends = Send.objects.filter(org_id=tenant.org_id)
    statuses = dict(sends.values_list("status").annotate(n=Count("pk")).order_by())
    times = sent.aggregate(first=Min("sent_at"), last=Max("sent_at"))
    complete = statuses.get(Send.Status.SENT, 0) >= n
    last = times["last"].timestamp() if complete else time.time()
    return ThroughputResult(
        n=n,
        elapsed=last - start,
        intake_elapsed=intake_elapsed,
        dispatch_elapsed=(times["last"] - times["first"]).total_seconds() if times["first"] else 0.0,
        statuses=statuses,
        complete=complete,
        sampler=sampler,
        progress=progress,
        database={key: after[key] - before[key] for key in after},
    )


def pg_counters() -> dict[str, int]:
    """Commits and connections in the bench database, WAL (whole server), the send table's row writes."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT xact_commit, sessions FROM pg_stat_database WHERE datname = current_database()"
        )
        commits, sessions = cursor.fetchone()
        cursor.execute("SELECT wal_records, wal_bytes, wal_sync FROM pg_stat_wal")
        wal_records, wal_bytes, wal_syncs = cursor.fetchone()
        cursor.execute(
            "SELECT n_tup_ins, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = %s",
            [Send._meta.db_table],
        )
        inserted, updated, hot = cursor.fetchone()
    return {
        "commits": commits,
        "connections": sessions,
        "wal_records": wal_records,
        "wal_bytes": int(wal_bytes),
        "wal_syncs": wal_syncs,
        "rows_inserted": inserted,
        "rows_updated": updated,
        "rows_updated_hot": hot,
    }
