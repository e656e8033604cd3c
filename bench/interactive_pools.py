"""`python -m bench.interactive_pools`: how many 10-recipient triggers a second a worker of the interactive
queue takes against a 100 ms provider, by pool and concurrency, with nothing else running (about 2 minutes).

Each pool in turn serves the `interactive` queue alone while triggers arrive open loop (bench/latency.py) at
5, 10 and 20 a second for 10 s; it prints p50 and p99 from due to sent. Where a rate is more than the
pool takes, the queue grows for the whole 10 s and the p99 is seconds: that is the pool's capacity.
"""

import os
import sys

POOLS = (("prefork", 1), ("prefork", 2), ("threads", 8))
RATES = (5, 10, 20)


def main() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    import django

    django.setup()
    from django.conf import settings

    from bench import latency, system
    from bench.provider import CHUNK, IN_FLIGHT, StandIn, postmark_env
    from bench.tenant import tenant_create

    system.database_recreate(system.DB)
    system.migrate(system.DB)
    system.redis_flush()
    web, standin = system.Web(), StandIn()
    standin.configure(delay_ms=100)
    env = {
        **postmark_env(standin.url),
        "HERALD_DISPATCH_IN_FLIGHT": str(IN_FLIGHT),
        "HERALD_CHUNK_SIZE": str(CHUNK),
    }
    try:
        for pool, concurrency in POOLS:
            worker = system.Worker(concurrency, queue=settings.HERALD_INTERACTIVE_QUEUE, env=env, pool=pool)
            try:
                for rate in RATES:
                    tenant = tenant_create(f"{pool} {concurrency} at {rate}")
                    result = latency.run(web, tenant, rate=rate, seconds=10, recipients=10)
                    p50, p99 = (result.percentile(result.to_sent, p) for p in (50, 99))
                    print(
                        f"{pool} -c {concurrency}: {rate} triggers/s of 10: p50 {p50 * 1000:,.0f} ms, "
                        f"p99 {p99 * 1000:,.0f} ms, not sent {result.not_sent}",
                        flush=True,
                    )
            finally:
                worker.stop()
    finally:
        standin.stop()
        web.stop()


if __name__ == "__main__":
    sys.exit(main())
