"""The one table (every figure beside its reference, the ratio, the target, met or not) and its appendix."""

import contextlib
import datetime
import os
import platform
import subprocess
from dataclasses import asdict, dataclass

import psutil

from bench import latency, system
from bench.system import ROOT


@dataclass
class Row:
    key: str
    measurement: str
    herald: str
    reference: str
    ratio: float | None = None
    target: str = ""
    met: bool | None = None  # None: informational, no target

    @property
    def met_text(self) -> str:
        return "-" if self.met is None else ("yes" if self.met else "NO")


def machine() -> str:
    cpu = _cpu_model()
    memory = psutil.virtual_memory().total / 2**30
    return f"{os.cpu_count()} CPUs ({cpu}), {memory:.1f} GiB RAM, {platform.system()} {platform.release()}"


def _cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def revision() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    sha = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"{sha}{' with uncommitted changes' if dirty else ''}"


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def table(rows: list[Row]) -> str:
    headers = ["#", "measurement", "Herald", "reference", "ratio", "target", "met"]
    cells = [
        [
            r.key,
            r.measurement,
            r.herald,
            r.reference,
            "" if r.ratio is None else f"{r.ratio:.2f}",
            r.target,
            r.met_text,
        ]
        for r in rows
    ]
    widths = [max([len(h), *(len(c[i]) for c in cells)]) for i, h in enumerate(headers)]
    right = {2, 3, 4}

    def line(values: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if i in right else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(c) for c in cells)])


def as_dicts(rows: list[Row]) -> list[dict]:
    return [asdict(r) for r in rows]


def per_second(value: float) -> str:
    return f"{value:,.0f}/s"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def mb(bytes_: float) -> str:
    return f"{bytes_ / 2**20:,.0f} MB"


def report(rows: list[Row], details: dict, plan) -> str:
    head = [
        f"Herald benchmark ({plan.mode}), {details['date']}, revision {details['revision']}",
        f"Machine: {details['machine']}",
        f"System: gunicorn x{system.WEB_WORKERS} sync workers, Celery worker x{system.WORKER_CONCURRENCY} "
        f"(prefork; 4a-4d also 1 interactive-only), {system.server_versions()} on 127.0.0.1, "
        "counting Anymail backend",
        f"Send log (7): {details['sendlog']['rows']:,} rows, {details['sendlog']['table_size']} with indexes"
        if "sendlog" in details
        else "",
        "",
    ]
    phases = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in details["phases"].items())
    problems = [f"PROBLEM: {problem}" for problem in details.get("problems", [])]
    return "\n".join([*head, table(rows), "", f"Time per phase: {phases}", *problems])


def appendix(details: dict) -> str:
    parts = [
        "Where the time went during the end-to-end runs (CPU seconds per 1,000 sends; postgres is the",
        "whole server, machine is every process on it, others' included)",
        "",
    ]
    for n, d in details.get("throughput", {}).items():
        per = 1000 / n
        cpu = ", ".join(f"{role} {seconds * per:.2f}" for role, seconds in sorted(d["cpu_seconds"].items()))
        db = d["database"]
        parts.append(f"{n:,} sends in {d['elapsed']:.1f} s: {cpu}")
        parts.append(
            f"  PostgreSQL per send: {db['commits'] / n:.2f} commits, "
            f"{db['connections'] / n:.3f} new connections, {db['wal_syncs'] / n:.2f} WAL syncs, "
            f"{db['wal_bytes'] / n / 1024:.1f} KiB WAL, {db['rows_updated'] / n:.2f} row updates "
            f"({db['rows_updated_hot'] / max(db['rows_updated'], 1):.0%} HOT)"
        )
        parts.append(
            f"  intake answered all {n // 1000:,} requests after {d['intake_elapsed']:.1f} s "
            f"({n / d['intake_elapsed']:,.0f} recipients/s while dispatching); statuses {d['statuses']}"
        )
        parts.append(
            "  RSS peaks, one process / all processes of the role: "
            + ", ".join(
                f"{role} {d['rss_peak'][role] / 2**20:.0f} / {d['rss_peak_total'][role] / 2**20:.0f} MB"
                for role in ("web", "worker")
            )
        )
    if "dispatch_profile" in details:
        p = details["dispatch_profile"]
        parts.append(
            f"\nOne process dispatching {p['sends']:,} sends: {p['wall_seconds']:.2f} s wall, "
            f"{p['cpu_seconds']:.2f} s CPU, {p['statements_per_send']:.2f} SQL statements per send "
            "(profiles: var/bench/profile-dispatch.txt, profile-intake.txt, profile-floor.txt)"
        )
        if by_part := p.get("parts"):
            parts.append(
                "  CPU per send by part, timed apart: "
                + ", ".join(f"{name.strip('_')} {seconds * 1e6:.0f} us" for name, seconds in by_part.items())
                + " (journal_write: sending it; its acknowledgement is awaited before the next delivery)"
            )
        if executions := p.get("executions"):
            parts.append("  PostgreSQL execution time per send, by statement (pg_stat_statements):")
            parts += [f"    {seconds * 1e6:5.1f} us  {query}" for seconds, query in executions]
        elif "executions" in p:
            parts.append("  (PostgreSQL's time by statement needs pg_stat_statements preloaded)")
    percentile = latency.LatencyResult.percentile
    for key, when in (("latency", ""), ("latency_during_campaign", " during the campaign")):
        if answered := details.get(key, {}).get("answered"):
            parts.append(
                f"Latency{when}: the trigger request itself was answered in {ms(percentile(answered, 50))} "
                f"p50, {ms(percentile(answered, 99))} p99"
            )
    for name, p in details.get("peer", {}).items():
        parts.append(
            f"post_office {name}: {p['n']:,} queued with send_many in {p['queue_seconds']:.1f} s, "
            f"sent by send_queued_mail in {p['send_seconds']:.1f} s"
        )
    if "sendlog" in details:
        log = details["sendlog"]
        built = (
            f"built in this run in {log['generate_seconds']:.0f} s"
            if log["generated_now"]
            else "kept from an earlier run"
        )
        parts.append(f"\nSend log: {log['rows']:,} rows, {log['table_size']} with indexes, {built}")
    for name, q in details.get("sendlog", {}).get("queries", {}).items():
        parts += ["", f"EXPLAIN (ANALYZE, BUFFERS): {name}", q["explain"]]
    return "\n".join(parts)
