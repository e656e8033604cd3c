"""The issue's targets, and the rows that set each figure beside its reference and its target."""

from bench import failover, held, intake, latency, sendlog, throughput
from bench.report import Row, mb, ms, per_second
from bench.throughput import ThroughputResult

# The figures: what was seen on this kind of machine, and the targets.
SEEN_FLOOR = 3500
INTAKE_BATCH_MEDIAN = 0.250
INTAKE_RATE = 4000
DIALECT_FACTOR = 1.5
INTAKE_SINGLE_MEDIAN = 0.015
FLOOR_SHARE = 0.8
SCALE_TOLERANCE = 0.15
LATENCY_P50 = 0.030
LATENCY_P99 = 0.150
PEER_FACTOR = 3
RSS_LIMIT = 250 * 2**20
RSS_GROWTH_LIMIT = 10 * 2**20
QUERY_LIMIT = 0.020


def intake_rows(result: intake.IntakeResult) -> list[Row]:
    native = result.median("native 1,000 new")
    existing = result.median("native 1,000 existing")
    single = result.median("native 1")
    rows = [
        Row(
            "2a",
            "intake native 1,000 new, median",
            ms(native),
            ms(INTAKE_BATCH_MEDIAN),
            native / INTAKE_BATCH_MEDIAN,
            "<= 250 ms",
            native <= INTAKE_BATCH_MEDIAN,
        ),
        Row(
            "2b",
            "intake native, recipients accepted",
            per_second(1000 / native),
            per_second(INTAKE_RATE),
            1000 / native / INTAKE_RATE,
            f">= {INTAKE_RATE:,}/s",
            1000 / native >= INTAKE_RATE,
        ),
    ]
    for key, kind, base, base_name in (
        ("2c", "message central v3.7", native, "native 1,000 new"),
        ("2d", "parcelLab", native, "native 1,000 new"),
        ("2e", "trigger launch v1.1", existing, "native 1,000 existing"),
        ("2f", "marketing cloud 1", single, "native 1"),
    ):
        value = result.median(kind)
        size = (
            "1 new recipient"
            if kind.endswith(" 1")
            else ("1,000 existing" if "existing" in base_name else "1,000 new")
        )
        name = kind.removesuffix(" 1")
        rows.append(
            Row(
                key,
                f"intake {name} {size}, median",
                ms(value),
                f"{ms(base)} native",
                value / base,
                f"<= {DIALECT_FACTOR}x native",
                value <= DIALECT_FACTOR * base,
            )
        )
    rows.append(
        Row(
            "2g",
            "intake native 1 new, median",
            ms(single),
            ms(INTAKE_SINGLE_MEDIAN),
            single / INTAKE_SINGLE_MEDIAN,
            "<= 15 ms",
            single <= INTAKE_SINGLE_MEDIAN,
        )
    )
    return rows


def throughput_rows(runs: dict[int, throughput.ThroughputResult], floor_rate: float) -> list[Row]:
    rows = []
    target = FLOOR_SHARE * floor_rate
    for i, (n, r) in enumerate(runs.items()):
        rows.append(
            Row(
                f"3{'ab'[i]}",
                f"end to end {n:,} sends",
                per_second(r.rate) + ("" if r.complete else " (incomplete)"),
                f"{per_second(floor_rate)} floor",
                r.rate / floor_rate,
                f">= {FLOOR_SHARE}x floor",
                r.rate >= target,
            )
        )
    if len(runs) > 1:
        small, large = list(runs.values())[0], list(runs.values())[-1]
        rows.append(
            Row(
                "3c",
                f"end to end {large.n:,} vs {small.n:,} sends",
                per_second(large.rate),
                f"{per_second(small.rate)} at {small.n:,}",
                large.rate / small.rate,
                f">= {1 - SCALE_TOLERANCE:.2f}x",
                large.rate >= (1 - SCALE_TOLERANCE) * small.rate,
            )
        )
    else:
        rows.append(Row("3c", "end to end 100,000 vs 10,000 sends", "not run", "(--quick)"))
    big = list(runs.values())[-1]
    for key, role in (("6a", "worker"), ("6b", "web")):
        peak = big.sampler.peak(role)
        rows.append(
            Row(
                key,
                f"RSS {role}, largest process ({big.n:,} sends)",
                mb(peak),
                mb(RSS_LIMIT),
                peak / RSS_LIMIT,
                "< 250 MB",
                peak < RSS_LIMIT,
            )
        )
    for key, role in (("6c", "worker"), ("6d", "web")):
        growth = big.rss_growth(role)
        rows.append(
            Row(
                key,
                f"RSS {role}, growth over the run",
                f"{growth / 2**20:+.1f} MB" if abs(growth) >= 2**20 / 20 else "0.0 MB",
                mb(RSS_GROWTH_LIMIT),
                None,
                "no growth (< 10 MB)",
                growth < RSS_GROWTH_LIMIT,
            )
        )
    return rows


def scale_row(result: ThroughputResult, count: int, reference: ThroughputResult, reference_count: int) -> Row:
    return Row(
        f"3w{count}",
        f"end to end {result.n:,} sends, {count} worker process{'es' if count > 1 else ''}",
        per_second(result.rate) + ("" if result.complete else " (incomplete)"),
        f"{per_second(reference.rate)} with {reference_count}",
        result.rate / reference.rate,
        "(scale-out)",
    )


def throughput_details(r: throughput.ThroughputResult) -> dict:
    return {
        "rate": r.rate,
        "elapsed": r.elapsed,
        "intake_elapsed": r.intake_elapsed,
        "dispatch_elapsed": r.dispatch_elapsed,
        "statuses": r.statuses,
        "complete": r.complete,
        "cpu_seconds": r.sampler.cpu,
        "database": r.database,
        "rss_peak": {role: r.sampler.peak(role) for role in ("web", "worker")},
        "rss_peak_total": {role: r.sampler.peak_total(role) for role in ("web", "worker")},
        "rss_growth": {role: r.rss_growth(role) for role in ("web", "worker")},
    }


def latency_rows(lat: latency.LatencyResult, during: int = 0) -> list[Row]:
    p50, p99 = lat.percentile(lat.to_sent, 50), lat.percentile(lat.to_sent, 99)
    keys, what = ("4c", "4d") if during else ("4a", "4b"), f" during {during:,} sends" if during else ""
    return [
        Row(
            keys[0],
            f"latency trigger to sent @ {lat.rate:.0f}/s{what}, p50",
            ms(p50),
            ms(LATENCY_P50),
            p50 / LATENCY_P50,
            "<= 30 ms",
            p50 <= LATENCY_P50,
        ),
        Row(
            keys[1],
            f"latency trigger to sent @ {lat.rate:.0f}/s{what}, p99",
            ms(p99),
            ms(LATENCY_P99),
            p99 / LATENCY_P99,
            "<= 150 ms",
            p99 <= LATENCY_P99,
        ),
    ]


def peer_rows(peers: dict, herald: throughput.ThroughputResult | None) -> list[Row]:
    fastest, defaults = peers["fastest"]["rate"], peers["defaults"]["rate"]
    if herald is None:
        return [
            Row("5a", "post_office fastest", per_second(fastest), "Herald not measured"),
            Row("5b", "post_office defaults", per_second(defaults), "Herald not measured"),
        ]
    return [
        Row(
            "5a",
            f"end to end {herald.n:,} vs post_office fastest",
            per_second(herald.rate),
            f"{per_second(fastest)} peer",
            herald.rate / fastest,
            f">= {PEER_FACTOR}x peer",
            herald.rate >= PEER_FACTOR * fastest,
        ),
        Row(
            "5b",
            f"end to end {herald.n:,} vs post_office defaults",
            per_second(herald.rate),
            f"{per_second(defaults)} peer",
            herald.rate / defaults,
            "(the issue saw ~380/s)",
        ),
    ]


def sendlog_rows(log: sendlog.SendlogResult) -> list[Row]:
    rows = []
    for i, q in enumerate(log.queries):
        p50, p99 = q.percentile(50), q.percentile(99)
        rows.append(
            Row(
                f"7{'abcdefgh'[i]}",
                f"send log: {q.name}, p50 (p99)",
                f"{ms(p50)} ({ms(p99)})",
                ms(QUERY_LIMIT),
                p50 / QUERY_LIMIT,
                "< 20 ms",
                p50 < QUERY_LIMIT,
            )
        )
    return rows


PROVIDER_RATE_100 = 1000
PROVIDER_RATE_500 = 500
PROVIDER_PEER_FACTOR = 2
PROVIDER_RSS_LIMIT = 400 * 2**20
PROVIDER_LATENCY_COST = 0.20
PROVIDER_INTERACTIVE_P99 = 0.500  # a 10-recipient trigger behind a bulk run, to sent


def provider_rows(runs: list) -> list[Row]:
    """7: end to end through Anymail's Postmark backend and the stand-in, at each provider delay."""
    rows = []
    at_zero = next((r.herald.rate for r in runs if r.delay_ms == 0), None)
    for i, r in enumerate(runs):
        key = f"7{chr(ord('a') + 2 * i)}"
        rate, peer_rate = r.herald.rate, r.peer["rate"]
        target = {100: PROVIDER_RATE_100, 500: PROVIDER_RATE_500}.get(r.delay_ms)
        rows.append(
            Row(
                key,
                f"provider {r.delay_ms} ms: end to end {r.herald.n:,}, vs post_office 2x{50} threads",
                per_second(rate),
                f"{per_second(peer_rate)} peer",
                rate / peer_rate if peer_rate else None,
                f">= {target:,}/s, >= {PROVIDER_PEER_FACTOR}x peer"
                if target
                else "(0 ms: the CPU of the call)",
                (rate >= target and rate >= PROVIDER_PEER_FACTOR * peer_rate) if target else None,
            )
        )
        rss = r.herald.sampler.peak_total("worker")
        cost = 1 - rate / at_zero if at_zero and r.delay_ms else None
        rows.append(
            Row(
                f"7{chr(ord('a') + 2 * i + 1)}",
                f"provider {r.delay_ms} ms: in flight (Herald / peer), worker RSS"
                + (f", {cost:.0%} below 0 ms" if cost is not None else ""),
                f"{r.herald_in_flight} / {r.peer['max_in_flight']}, {mb(rss)}",
                mb(PROVIDER_RSS_LIMIT),
                rss / PROVIDER_RSS_LIMIT,
                f"<= {mb(PROVIDER_RSS_LIMIT)}"
                + (
                    f", <= {PROVIDER_LATENCY_COST:.0%} below 0 ms"
                    if cost is not None and r.delay_ms == 100
                    else ""
                ),
                rss <= PROVIDER_RSS_LIMIT
                and (cost is None or r.delay_ms != 100 or cost <= PROVIDER_LATENCY_COST),
            )
        )
        if r.interactive is not None and r.interactive.to_sent:
            lat = r.interactive
            p99 = lat.percentile(lat.to_sent, 99)
            rows.append(
                Row(
                    "7i",
                    f"provider {r.delay_ms} ms: 10-recipient trigger to sent during {r.herald.n:,} bulk, p99"
                    + (f" ({lat.not_sent} not sent)" if lat.not_sent else "")
                    + (
                        " (its answer {answered}, then claimed {claimed}, then sent {sent})".format(
                            **{k: ms(v) for k, v in lat.p99_parts.items()}
                        )
                        if lat.p99_parts
                        else ""
                    ),
                    ms(p99),
                    ms(PROVIDER_INTERACTIVE_P99),
                    p99 / PROVIDER_INTERACTIVE_P99,
                    f"<= {ms(PROVIDER_INTERACTIVE_P99)}",
                    p99 <= PROVIDER_INTERACTIVE_P99 and not lat.not_sent,
                )
            )
    return rows


def held_row(result: held.HeldResult | None, same_size: ThroughputResult | None) -> Row:
    """3h: sends held for a window and released when it opens, against the dispatch rate of as many
    queued sends: holding must not slow dispatch."""
    if result is None:
        return Row("3h", "end to end 100,000 held sends, from the window's opening", "not run", "(--quick)")
    reference = same_size.n / same_size.dispatch_elapsed if same_size and same_size.dispatch_elapsed else None
    return Row(
        "3h",
        f"end to end {result.n:,} held sends, from the window's opening (first sent after "
        f"{result.first_sent:.1f} s)",
        per_second(result.rate) + ("" if result.complete else " (incomplete)"),
        f"{per_second(reference)} dispatch, queued" if reference else "(no run of that size)",
        result.rate / reference if reference else None,
        f">= {1 - SCALE_TOLERANCE:.2f}x",
        result.rate >= (1 - SCALE_TOLERANCE) * reference if reference else None,
    )


FAILOVER_ADDED_P99 = 5.0


def failover_row(result: failover.FailoverResult) -> Row:
    """7g: what an outage of an org's first provider adds to its sends' time to sent, at p99."""
    return Row(
        "7g",
        f"provider {failover.DELAY_MS} ms, first of two down: p99 due to sent, added "
        f"({result.n:,} sends at {failover.RATE * failover.RECIPIENTS}/s; "
        f"{result.primary_failures} calls to the one down"
        + (f"; {result.not_sent} triggers not sent" if result.not_sent else "")
        + ")",
        f"{result.added:+.2f} s",
        f"{result.p99_up:.2f} s both up",
        result.added / FAILOVER_ADDED_P99,
        f"< {FAILOVER_ADDED_P99:.0f} s added",
        result.added < FAILOVER_ADDED_P99 and result.complete,
    )
