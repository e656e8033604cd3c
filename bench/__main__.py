"""The driver: `python -m bench` (about 10 minutes) or `python -m bench --quick` (1,000 sends, for CI).

Runs every measurement against real processes on this machine, then prints one table with each figure
beside its reference from the same run. Timing targets are reported, never asserted: the exit status is
non-zero only when something did not work (a send not sent, a request refused, a process that died).
Also writes var/bench/report-<mode>.txt (the table, the EXPLAIN plans, where the CPU went) and
var/bench/results-<mode>.json.
"""

import argparse
import os
import signal
import sys
import time
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Plan:
    mode: str
    floor: int  # messages rendered and delivered in one process
    rounds: int  # intake: requests of each 1,000-recipient kind
    singles: int  # intake: single-recipient requests of each kind
    sends: tuple[int, ...]  # end-to-end runs
    latency_seconds: float
    latency_rate: float
    peer: int
    sendlog_rows: int
    profile: int  # sends dispatched in-process for the profile
    worker_counts: tuple[int, ...] = (1, 2)  # Celery worker processes for the end-to-end runs
    provider_sends: int = 10_000  # end to end through the ESP stand-in, at each delay
    provider_delays: tuple[int, ...] = (0, 100, 500)  # the stand-in's answer delays, ms
    held: int = 100_000  # sends held for a send window, released when it opens (0: not run)
    only: tuple[str, ...] = ()  # phases to run; empty: all


FULL = Plan("full", 20_000, 15, 200, (10_000, 100_000), 30, 20, 10_000, 10_000_000, 3_000)
QUICK = Plan("quick", 2_000, 3, 20, (1_000,), 5, 20, 1_000, 100_000, 1_000, provider_sends=1_000, held=0)

STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.0f}s] {message}", file=sys.stderr, flush=True)


def _stop_on_signal(signum, frame) -> None:
    raise SystemExit(128 + signum)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 sends, 100,000-row send log (CI)")
    parser.add_argument(
        "--only",
        help="comma-separated phases to run (floor, intake, profile, throughput, latency, provider, peer,"
        " sendlog); the ones they need run too",
    )
    parser.add_argument("--sends", help="comma-separated sizes of the end-to-end runs, e.g. 10000")
    parser.add_argument("--workers", help="comma-separated worker process counts for the end-to-end runs")
    parser.add_argument("--held", type=int, help="sends held for a send window (0: that row not run)")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    if args.sends:
        plan = replace(plan, sends=tuple(int(n) for n in args.sends.split(",")))
    if args.workers:
        plan = replace(plan, worker_counts=tuple(int(n) for n in args.workers.split(",")))
    if args.held is not None:
        plan = replace(plan, held=args.held)
    if args.only:
        plan = replace(plan, only=tuple(args.only.split(",")))
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    if plan is QUICK:
        os.environ.setdefault("BENCH_SENDLOG_DB", "herald_bench_sendlog_quick")
    import django

    django.setup()
    signal.signal(signal.SIGTERM, _stop_on_signal)
    from bench.run import run

    return run(plan, say)


if __name__ == "__main__":
    sys.exit(main())
