"""Every measurement in order, the processes each needs, and the table they make."""

import json
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings

from bench import failover, floor, held, intake, latency, peer, profile, provider, sendlog, system, throughput
from bench.report import Row, appendix, as_dicts, machine, ms, now, per_second, report, revision
from bench.targets import (
    INTAKE_BATCH_MEDIAN,
    SEEN_FLOOR,
    failover_row,
    held_row,
    intake_rows,
    latency_rows,
    peer_rows,
    provider_rows,
    scale_row,
    sendlog_rows,
    throughput_details,
    throughput_rows,
)
from bench.tenant import sends_reset, tenant_create


class Run:
    """One benchmark run: its phases, what they measured, and what went wrong.

    A phase that fails is reported and the phases that do not need it still run, so one broken part
    never costs the figures of the others.
    """

    def __init__(self, plan, say: Callable[[str], None]):
        self.plan = plan
        self.say = say
        self.rows: list[Row] = []
        self.details: dict = {"mode": plan.mode, "machine": machine(), "date": now(), "revision": revision()}
        self.phases: dict[str, float] = {}
        self.failed: set[str] = set()
        self.problems: list[str] = []
        self.services: list[system.Service] = []
        self.floor_rate = SEEN_FLOOR  # until measured

    def phase(self, name: str, body: Callable[[], None], *, needs: tuple[str, ...] = ()) -> None:
        missing = [need for need in needs if need in self.failed]
        if missing:
            self.failed.add(name)
            self.problems.append(f"{name}: not run, {', '.join(missing)} failed")
            return
        started = time.monotonic()
        try:
            body()
        except Exception as exc:
            traceback.print_exc()
            self.failed.add(name)
            self.problems.append(f"{name}: {type(exc).__name__}: {exc}".splitlines()[0])
        self.phases[name] = time.monotonic() - started

    def floor(self) -> None:
        self.say(f"floor: {self.plan.floor:,} messages in one process on one core")
        rates = floor.run(self.plan.floor)
        self.floor_rate = ref = rates["plain_django"]
        self.rows.append(
            Row(
                "1",
                "floor: Django render + backend, 1 core",
                per_second(ref),
                f"~{SEEN_FLOOR:,}/s seen",
                ref / SEEN_FLOOR,
                "reference for 3",
            )
        )
        self.rows.append(
            Row(
                "1h",
                "floor via Herald's render + deliver, 1 core",
                per_second(rates["herald"]),
                per_second(ref),
                rates["herald"] / ref,
                "(evidence)",
            )
        )
        self.details["floor"] = rates

    def system(self) -> None:
        self.say("system: fresh herald_bench database, Redis db 11, gunicorn")
        system.database_recreate(system.DB)
        system.migrate(system.DB)
        system.redis_flush()
        self.web = system.Web()
        self.services.append(self.web)

    def intake(self) -> None:
        plan = self.plan
        self.say(
            f"intake: {plan.rounds} rounds of 1,000-recipient triggers, {plan.singles} single ones, per kind"
        )
        self.intake_tenant = tenant_create("intake")
        result = intake.run(self.web, self.intake_tenant, rounds=plan.rounds, singles=plan.singles)
        self.rows += intake_rows(result)
        self.details["intake"] = {kind: sorted(v) for kind, v in result.durations.items()}

    def profile(self) -> None:
        self.say(
            f"profile: {self.plan.profile:,} sends dispatched, 1,000-recipient triggers, in this process"
        )
        dispatch = profile.run(self.intake_tenant.org_id, self.plan.profile)
        self.rows.append(
            Row(
                "3p",
                "dispatch only, 1 process, no competition",
                per_second(dispatch.rate),
                f"{per_second(self.floor_rate)} floor",
                dispatch.rate / self.floor_rate,
                "(evidence)",
            )
        )
        self.details["dispatch_profile"] = {
            "sends": dispatch.sends,
            "wall_seconds": dispatch.wall,
            "cpu_seconds": dispatch.cpu,
            "statements_per_send": dispatch.statements,
            "parts": dispatch.parts,
            "executions": dispatch.executions,
        }
        in_process = profile.intake(self.intake_tenant)
        self.rows.append(
            Row(
                "2p",
                "intake native 1,000 new, in-process, median",
                ms(in_process),
                ms(INTAKE_BATCH_MEDIAN),
                in_process / INTAKE_BATCH_MEDIAN,
                "(evidence)",
            )
        )
        self.details["intake_in_process"] = in_process

    def throughput(self) -> None:
        sends_reset()  # what intake and profile left queued is not this phase's work
        system.redis_flush()
        self.worker = system.Worker()
        self.services.append(self.worker)
        runs = {}
        for n in self.plan.sends:
            self.say(f"end to end: {n:,} sends (web x{self.web.workers}, worker x{self.worker.concurrency})")
            tenant = tenant_create(f"throughput {n}")
            runs[n] = throughput.run(self.web, self.worker, tenant, n, timeout=max(120, n / 100))
            if not runs[n].complete:
                self.problems.append(f"{n:,} sends: only {runs[n].statuses} after the time limit")
        self.runs = runs
        self.rows += throughput_rows(runs, self.floor_rate)
        self.details["throughput"] = {n: throughput_details(r) for n, r in runs.items()}
        self.held()
        self.scale_out()

    def held(self) -> None:
        n = self.plan.held
        if not n:
            self.rows.append(held_row(None, None))
            return
        self.say(f"end to end: {n:,} sends held for a send window, released when it opens")
        result = held.run(self.web, self.worker, tenant_create(f"held {n}"), n, timeout=max(120, n / 100))
        if not result.complete:
            self.problems.append(f"{n:,} held sends: {result.held:,} held, then {result.statuses}")
        self.rows.append(held_row(result, self.runs.get(n)))
        self.details["held"] = vars(result) | {"rate": result.rate}

    def scale_out(self) -> None:
        """The first size again with each other number of worker processes: what one more process buys."""
        n = self.plan.sends[0]
        for count in self.plan.worker_counts:
            if count == system.WORKER_CONCURRENCY:
                continue
            self.worker_restart(count)
            self.say(f"end to end: {n:,} sends with {count} worker process(es)")
            result = throughput.run(self.web, self.worker, tenant_create(f"workers {count}"), n, timeout=120)
            if not result.complete:
                self.problems.append(f"{n:,} sends, {count} workers: only {result.statuses}")
            self.rows.append(scale_row(result, count, self.runs[n], system.WORKER_CONCURRENCY))
            self.details.setdefault("scale_out", {})[count] = throughput_details(result)
        if self.worker.concurrency != system.WORKER_CONCURRENCY:
            self.worker_restart(system.WORKER_CONCURRENCY)

    def worker_restart(self, concurrency: int) -> None:
        self.worker.stop()
        self.services.remove(self.worker)
        self.worker = system.Worker(concurrency=concurrency)
        self.services.append(self.worker)

    def latency(self) -> None:
        plan = self.plan
        self.say(
            f"latency: {plan.latency_rate:.0f} single-recipient triggers/s for {plan.latency_seconds:.0f} s"
        )
        # As docs/operations.md deploys it: beside the workers of both queues, one process of interactive
        # sends only, so a single trigger never waits for a worker to finish a bulk chunk.
        interactive = system.Worker(1, queue=settings.HERALD_INTERACTIVE_QUEUE)
        self.services.append(interactive)
        tenant = tenant_create("latency")
        latency.run(self.web, tenant, rate=plan.latency_rate, seconds=2)  # warm up
        lat = latency.run(self.web, tenant, rate=plan.latency_rate, seconds=plan.latency_seconds)
        if lat.not_sent:
            self.problems.append(f"latency: {lat.not_sent} triggers not sent within a minute")
        self.rows += latency_rows(lat)
        self.details["latency"] = {"to_sent": sorted(lat.to_sent), "answered": sorted(lat.answered)}
        # The same single triggers while a campaign is dispatching: the interactive queue at work.
        n = plan.sends[0]
        seconds = min(plan.latency_seconds, 10)
        self.say(f"latency: the same for {seconds:.0f} s while {n:,} sends are dispatched")
        with ThreadPoolExecutor(1) as pool:
            bulk = pool.submit(throughput.run, self.web, self.worker, tenant_create("bulk"), n, timeout=300)
            time.sleep(2)  # its first triggers are in and dispatching
            busy = latency.run(self.web, tenant, rate=plan.latency_rate, seconds=seconds)
            campaign = bulk.result()
        if busy.not_sent or not campaign.complete:
            self.problems.append(f"latency during a campaign: {busy.not_sent} not sent, {campaign.statuses}")
        self.rows += latency_rows(busy, during=n)
        self.details["latency_during_campaign"] = {
            "to_sent": sorted(busy.to_sent), "answered": sorted(busy.answered), "campaign": n,
        }  # fmt: skip

    def provider(self) -> None:
        plan = self.plan
        if getattr(self, "worker", None) in self.services:  # its own worker, for an HTTP provider, instead
            self.worker.stop()
            self.services.remove(self.worker)
        self.say(
            f"provider: {plan.provider_sends:,} sends through Anymail's Postmark backend at "
            f"{', '.join(f'{d} ms' for d in plan.provider_delays)}; post_office {plan.peer:,} the same way"
        )
        runs = provider.run(self.web, plan.provider_sends, plan.peer, plan.provider_delays)
        for r in runs:
            if not r.herald.complete:
                self.problems.append(f"provider {r.delay_ms} ms: only {r.herald.statuses}")
            if r.peer["sent"] != plan.peer:
                self.problems.append(f"post_office at {r.delay_ms} ms: {r.peer}")
        self.rows += provider_rows(runs)
        n = plan.provider_sends
        self.say(f"provider: {n:,} sends of an org with two providers, both up, then the first down")
        result = failover.run(self.web, n)
        if not result.complete:
            self.problems.append(f"failover: not every send was sent ({result})")
        self.rows.append(failover_row(result))
        self.details["failover"] = vars(result) | {"added": result.added}
        self.details["provider"] = {
            r.delay_ms: {
                "herald": throughput_details(r.herald),
                "herald_in_flight": r.herald_in_flight,
                "peer": r.peer,
            }
            for r in runs
        }  # fmt: skip

    def stop_services(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.services.clear()

    def peer(self) -> None:
        peers = {}
        for name in ("fastest", "defaults"):
            self.say(f"peer: django-post-office, {name}, {self.plan.peer:,} emails")
            peers[name] = peer.run(self.plan.peer, name)
            if peers[name]["sent"] != self.plan.peer:
                self.problems.append(f"post_office {name}: {peers[name]}")
        self.details["peer"] = peers
        runs = getattr(self, "runs", {})
        herald = runs.get(self.plan.peer) or next(iter(runs.values()), None)
        self.rows += peer_rows(peers, herald)

    def sendlog(self) -> None:
        rows = self.plan.sendlog_rows
        self.say(f"send log: {rows:,} rows (built once, then kept in {sendlog.database_name()})")
        log = sendlog.run(rows)
        self.rows += sendlog_rows(log)
        self.details["sendlog"] = {
            "rows": log.rows,
            "generated_now": log.generated,
            "generate_seconds": log.generate_seconds,
            "table_size": log.table_size,
            "queries": {q.name: {"seconds": q.seconds, "explain": q.explain} for q in log.queries},
        }


def run(plan, say: Callable[[str], None]) -> int:
    r = Run(plan, say)
    # --only: these phases and the ones they stand on.
    needs = {"profile": {"intake"}, "latency": {"throughput"}}
    wanted = set(plan.only) or {
        "floor", "intake", "profile", "throughput", "latency", "provider", "peer", "sendlog",
    }  # fmt: skip
    for name in list(wanted):
        wanted |= needs.get(name, set())
    live = wanted & {"intake", "profile", "throughput", "latency", "provider"}
    try:
        if "floor" in wanted:
            r.phase("floor", r.floor)
        if live:
            r.phase("system", r.system)
        for name in ("intake", "profile", "throughput", "latency", "provider"):
            if name in wanted:
                r.phase(name, getattr(r, name), needs=("system", *needs.get(name, ())))
        r.stop_services()
        for name in ("peer", "sendlog"):
            if name in wanted:
                r.phase(name, getattr(r, name))
    finally:
        r.stop_services()
        system.redis_flush()

    r.rows.sort(key=lambda row: row.key)
    r.details["phases"] = r.phases
    r.details["rows"] = as_dicts(r.rows)
    r.details["problems"] = r.problems
    text = report(r.rows, r.details, plan)
    print(text)
    system.VAR.mkdir(parents=True, exist_ok=True)
    (system.VAR / f"report-{plan.mode}.txt").write_text(text + "\n\n" + appendix(r.details))
    (system.VAR / f"results-{plan.mode}.json").write_text(json.dumps(r.details, indent=1, default=str))
    for problem in r.problems:
        say(f"PROBLEM: {problem}")
    if r.problems:
        say(f"kept {system.DB} and var/bench/*.log for a look at what went wrong")
        return 1
    system.database_drop(system.DB)
    return 0
