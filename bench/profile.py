"""Where the time goes, in this process and under cProfile: evidence, not targets.

`dispatch`: `sends_dispatch` on sends the intake left queued, chunk after chunk with nothing else
competing; its wall time against its own CPU time (the rest is waiting, mostly on PostgreSQL), and where
the server loads pg_stat_statements, PostgreSQL's own time in each statement.
`intake`: 1,000-recipient native triggers through Django's test client (the whole view, no network).
Profiles go to var/bench/profile-*.txt.
"""

import cProfile
import io
import pstats
import statistics
import time
from dataclasses import dataclass

from django.db import DatabaseError, connection, transaction

from bench import workload
from bench.system import VAR
from bench.tenant import Tenant
from dispatch.chunk import sends_dispatch
from sends.models import Send

CHUNK = 100


@dataclass
class DispatchProfile:
    sends: int
    wall: float
    cpu: float
    statements: int  # SQL statements per send
    parts: dict[str, float]  # CPU seconds per send in each part of dispatch
    # PostgreSQL's execution seconds per send of each statement, highest first; empty without
    # pg_stat_statements
    executions: list[tuple[float, str]]

    @property
    def rate(self) -> float:
        return self.sends / self.wall


def _queued(org_id: int, n: int) -> list[list[int]]:
    ids = list(
        Send.objects.filter(org_id=org_id, status=Send.Status.QUEUED)
        .order_by("pk")
        .values_list("pk", flat=True)[:n]
    )
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


def run(org_id: int, n: int) -> DispatchProfile:
    from django.test.utils import CaptureQueriesContext

    for chunk in _queued(org_id, 2 * CHUNK):  # warm up: connection, templates, code paths
        sends_dispatch(send_ids=chunk)
    chunks = _queued(org_id, n)
    counted = _executions_reset()
    wall, cpu = time.perf_counter(), time.process_time()
    for chunk in chunks:
        sends_dispatch(send_ids=chunk)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    sent = sum(len(c) for c in chunks)
    executions = _executions(sent) if counted else []

    parts = _parts(org_id, n)

    with CaptureQueriesContext(connection) as captured:
        for chunk in _queued(org_id, CHUNK):
            sends_dispatch(send_ids=chunk)
    statements = len(captured.captured_queries) / CHUNK

    profiler = cProfile.Profile()
    profiler.enable()
    for chunk in _queued(org_id, n):
        sends_dispatch(send_ids=chunk)
    profiler.disable()
    _write(profiler, "profile-dispatch.txt")
    return DispatchProfile(
        sends=sent, wall=wall, cpu=cpu, statements=statements, parts=parts, executions=executions
    )


_THIS_DATABASE = "(SELECT oid FROM pg_database WHERE datname = current_database())"


def _executions_reset() -> bool:
    """Whether the server keeps pg_stat_statements (it must be in shared_preload_libraries); its counts
    start again now if so."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            # This database's counts only: others on the server (a test run's) keep theirs.
            cursor.execute(f"SELECT pg_stat_statements_reset(0, {_THIS_DATABASE}, 0)")
    except DatabaseError:
        return False
    return True


def _executions(sends: int, top: int = 5) -> list[tuple[float, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT total_exec_time, query FROM pg_stat_statements"
            f" WHERE dbid = {_THIS_DATABASE}"
            " AND query NOT LIKE '%%pg_stat_statements%%'"
            " ORDER BY total_exec_time DESC LIMIT %s",
            [top],
        )
        return [(ms / 1000 / sends, " ".join(query.split())[:70]) for ms, query in cursor.fetchall()]


# The parts of dispatch timed on their own (CPU time, without cProfile's overhead, which inflates Python
# calls against C): each name in the dispatch module that calls it.
PARTS = {
    "sends_claim": "chunk", "attachments_by_trigger": "chunk", "suppressed_among": "chunk",
    "webhook_subscriptions_load": "chunk", "render_mailing": "attempt", "deliver": "attempt",
    "outcomes_record": "record",
}  # fmt: skip


def _parts(org_id: int, n: int) -> dict[str, float]:
    import importlib

    from dispatch import journal

    modules = {name: importlib.import_module(f"dispatch.{module}") for name, module in PARTS.items()}
    spent = dict.fromkeys([*PARTS, "journal_write"], 0.0)
    originals = {name: getattr(modules[name], name) for name in PARTS} | {
        "journal_write": journal.journal_write
    }

    def timed(name: str, function):
        def run(*args, **kwargs):
            start = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] += time.process_time() - start

        return run

    for name in PARTS:
        setattr(modules[name], name, timed(name, originals[name]))
    journal.journal_write = timed("journal_write", journal.journal_write)
    try:
        chunks = _queued(org_id, n)
        cpu = time.process_time()
        for chunk in chunks:
            sends_dispatch(send_ids=chunk)
        cpu = time.process_time() - cpu
    finally:
        for name in PARTS:
            setattr(modules[name], name, originals[name])
        journal.journal_write = originals["journal_write"]
    sent = sum(len(c) for c in chunks)
    if not sent:
        return {}
    return {"total": cpu / sent} | {name: seconds / sent for name, seconds in spent.items()}


def intake(tenant: Tenant, requests: int = 5) -> float:
    """Median seconds of a 1,000-recipient native trigger in this process, then a profile of `requests`."""
    from django.test import Client

    client = Client(headers={"Authorization": f"Bearer {tenant.token}"})
    path = f"/api/v1/campaigns/{tenant.campaign_key}/trigger/"

    def post(i: int) -> None:
        body = workload.native_trigger(f"prof{i}", 0, 1000)
        response = client.post(path, body, content_type="application/json")
        if response.status_code != 202:
            raise RuntimeError(f"trigger answered {response.status_code}: {response.content[:300]!r}")

    post(-1)
    seconds = []
    for i in range(requests):
        start = time.perf_counter()
        post(i)
        seconds.append(time.perf_counter() - start)
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(requests, 2 * requests):
        post(i)
    profiler.disable()
    _write(profiler, "profile-intake.txt")
    return statistics.median(seconds)


def _write(profiler: cProfile.Profile, name: str) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(25)
    VAR.mkdir(parents=True, exist_ok=True)
    (VAR / name).write_text(out.getvalue())
