"""5. The peer: django-post-office on the same workload, database server, backend and machine.

Run by the driver as `python -m bench.peer N` under bench/peer_settings.py, in a database of its own. The
clock runs from the first `mail.send_many` call to the end of the `send_queued_mail` command, which must
leave every email `sent`; the command is called in the peer's own, already started process, so
interpreter start-up is not counted against it. The same templates are stored as a post_office
`EmailTemplate` and rendered by post_office itself at delivery (`render_on_delivery=True`) with each
recipient's own context, as Herald's worker renders each send; post_office renders with the project's
Django template engine.
"""

import json
import sys
import time

from bench import system, workload

PROFILES = {
    # The "fastest configuration": batches of 1,000 (peer_settings), 2 sending processes.
    "fastest": ["--processes=2"],
    "defaults": [],
    # For a slow provider (bench/provider.py): 2 processes of 50 threads each (peer_settings).
    "latency": ["--processes=2"],
}
QUEUE_BATCH = 1000


def run(n: int, profile: str, extra_env: dict | None = None) -> dict:
    """Measure in a fresh database; returns {"rate", "queue_seconds", "send_seconds", "sent"}."""
    system.database_recreate(system.PEER_DB)
    try:
        env = system.service_env(
            database=system.PEER_DB, DJANGO_SETTINGS_MODULE="bench.peer_settings", BENCH_PEER_PROFILE=profile,
            **(extra_env or {}),
        )  # fmt: skip
        env.pop("CELERY_BROKER_URL")
        env.pop("REDIS_URL")
        system.migrate(system.PEER_DB, settings="bench.peer_settings")
        result = system.VAR / f"peer-{profile}.json"
        result.unlink(missing_ok=True)
        process = system.Service(
            f"peer-{profile}", [sys.executable, "-m", "bench.peer", str(n), profile], env
        )
        try:
            if process.process.wait(timeout=max(300, n / 20)) != 0:
                raise RuntimeError(f"the post_office run failed:\n{process.log_tail()}")
        finally:
            process.stop()  # and send_queued_mail's processes with it, whatever happened
        return json.loads(result.read_text())
    finally:
        system.database_drop(system.PEER_DB)


def main(n: int, profile: str) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from post_office import mail
    from post_office.models import STATUS, Email, EmailTemplate

    template = EmailTemplate.objects.create(
        name="order-confirmed",
        subject=workload.SUBJECT,
        content=workload.TEXT,
        html_content=workload.HTML,
    )
    start = time.time()
    for first in range(0, n, QUEUE_BATCH):
        mail.send_many(
            [
                {
                    "recipients": [workload.email("peer", i)],
                    "sender": workload.FROM_EMAIL,
                    "template": template,
                    "context": {
                        "recipient": {
                            "email": workload.email("peer", i),
                            "first_name": workload.first_name(i),
                        },
                        "context": workload.context_for("peer", i),
                    },
                    "render_on_delivery": True,
                }
                for i in range(first, min(first + QUEUE_BATCH, n))
            ]
        )
    queued = time.time()
    # The management command, called in this already started process: its interpreter start-up is not
    # counted against it (Herald's worker is running before the clock starts, too).
    call_command("send_queued_mail", *PROFILES[profile], lockfile=str(system.VAR / "post_office"))
    done = time.time()
    sent = Email.objects.filter(status=STATUS.sent).count()
    result = {
        "rate": sent / (done - start),
        "queue_seconds": queued - start,
        "send_seconds": done - queued,
        "sent": sent,
        "n": n,
    }
    (system.VAR / f"peer-{profile}.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
