"""A provider account's limits held by several real worker processes together, against a Postmark stand-in
that Anymail's real Postmark backend calls."""

import bisect
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import esp_standin
from orgs.services import org_create
from recipients.models import Recipient
from sends.models import Send
from sends.queue import sends_enqueue
from tests.e2e.conftest import ROOT, _stop, database_url, wait_for
from tests.factories import CampaignFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
WORKERS = 3


@pytest.fixture
def standin():
    server, url = esp_standin.start(delay_ms=50)
    yield server, url
    server.stop()


@pytest.fixture
def workers(worker, standin, settings, tmp_path):
    """Start WORKERS worker processes (the first with beat and the sweeper) calling the stand-in."""
    started: list[subprocess.Popen] = []
    logs = [tmp_path / f"worker-{n}.log" for n in range(WORKERS)]

    def start(**limits: str) -> list[Path]:
        env = {
            "EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend",
            "ANYMAIL_POSTMARK_SERVER_TOKEN": "test-token",
            "ANYMAIL_POSTMARK_API_URL": standin[1],
            "REDIS_URL": settings.REDIS_URL,
            "HERALD_DISPATCH_IN_FLIGHT": "16",  # each worker alone would have 2 x 16 calls in flight
            "HERALD_RETRY_BASE_SECONDS": "1",
            **limits,
        }
        worker.log = logs[0]
        worker.start(**env)
        for log in logs[1:]:
            started.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "config",
                        "worker",
                        "--loglevel=INFO",
                        "--concurrency=2",
                        "--without-gossip",
                        "--without-mingle",
                    ],
                    cwd=ROOT,
                    env={
                        **os.environ,
                        "DATABASE_URL": database_url(),
                        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
                        **env,
                    },
                    stdout=log.open("ab"),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip
            )
        for log in logs:  # every worker consuming before the sends are queued, so each takes a share
            wait_for(lambda log=log: log.exists() and " ready." in log.read_text(), timeout=60,
                     what=f"{log.name} ready", log=log)  # fmt: skip
        return logs

    yield start
    for process in started:
        _stop(process)


def queue_sends(n: int, settings) -> None:
    settings.HERALD_CHUNK_SIZE = 5  # many small chunks: every worker's task threads take some
    org, _ = org_create(name="Shop")
    campaign = CampaignFactory(org=org, key="order-completed")
    recipients = Recipient.objects.bulk_create(
        Recipient(org=org, email=f"r{i}@example.com") for i in range(n)
    )
    sends = Send.objects.bulk_create(
        Send(org=org, campaign=campaign, mailing=campaign.email_mailing, recipient=r, channel="email",
             to_address=r.email, context={"order_number": i})
        for i, r in enumerate(recipients)
    )  # fmt: skip
    sends_enqueue(send_ids=[s.pk for s in sends], on_commit=False)


def all_sent(n: int, logs: list[Path], timeout: float = 120) -> None:
    wait_for(lambda: Send.objects.filter(status="sent").count() == n, timeout=timeout, what=f"{n} sends sent",
             log=logs[0])  # fmt: skip
    # Each worker process took a share: the limits held between processes, not only within one.
    assert all(" sent " in log.read_text() for log in logs), [log.read_text()[-2000:] for log in logs]


def most_in_any_second(starts: list[float]) -> int:
    starts = sorted(starts)
    return max(bisect.bisect_left(starts, s + 1.0) - i for i, s in enumerate(starts))


def test_workers_together_never_have_more_calls_in_flight_than_the_limit(workers, standin, settings):
    server, _ = standin
    server.configure(delay_ms=100)
    logs = workers(HERALD_EMAIL_MAX_IN_FLIGHT="4")
    queue_sends(150, settings)
    all_sent(150, logs)
    stats = server.stats()
    assert stats["messages"] == 150
    assert stats["max_in_flight"] == 4  # reached, never passed, by 3 workers x 2 tasks x 16 threads


def test_workers_together_keep_to_the_rate(workers, standin, settings):
    server, _ = standin
    logs = workers(HERALD_EMAIL_RATE_PER_SECOND="20")
    queue_sends(100, settings)
    all_sent(100, logs)
    starts = [began for began, _, _ in server.timeline]
    assert len(starts) == 100
    # Evenly spaced 50 ms apart by Redis' clock; the stand-in sees them a little jittered by the workers'
    # threads and the network, so a second may hold one more. Without the limit: hundreds a second.
    assert most_in_any_second(starts) <= 22
    assert (len(starts) - 1) / (max(starts) - min(starts)) <= 20 * 1.05


def test_a_429_pauses_every_worker(workers, standin, settings):
    server, _ = standin
    server.configure(delay_ms=20, fail_429=0.04, retry_after=1)  # every 25th request
    logs = workers(HERALD_EMAIL_MAX_IN_FLIGHT="4", HERALD_PROVIDER_PAUSE_SECONDS="1")
    queue_sends(150, settings)
    all_sent(150, logs)
    timeline = sorted(server.timeline)
    refusals = [answered for _, answered, status in timeline if status == 429]
    assert len(refusals) >= 5
    starts = [began for began, _, _ in timeline]
    for answered in refusals:
        # The worker that got the 429 sets the pause a moment after it was answered; calls other workers
        # started in that moment may still arrive, none after it until the pause ends. Without a shared
        # pause (4 calls of 20 ms at a time) about 150 calls would have started in that second.
        during = [s for s in starts if answered + 0.15 < s < answered + 0.9]
        assert during == [], f"{len(during)} calls started while the provider had asked for a pause"
