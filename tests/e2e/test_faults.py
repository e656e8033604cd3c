"""Faults Herald must survive, with real processes: workers killed, the broker lost, rolled-back triggers."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import psycopg
import pytest
import requests
from django.db import connection, transaction
from psycopg import sql

from core import metrics
from dispatch.chunk import sends_dispatch
from dispatch.sweep import sends_sweep
from intake.accept import trigger_accept
from intake.commands import RecipientSpec, TriggerCommand
from orgs.services import org_create
from sends.models import Send, Trigger
from tests.e2e.conftest import ROOT, database_url, dispatches_per_send, wait_for
from tests.factories import CampaignFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def accept(campaign, n: int, prefix: str) -> list[int]:
    result = trigger_accept(
        org=campaign.org,
        campaign=campaign,
        command=TriggerCommand(
            recipients=[RecipientSpec(email=f"{prefix}{i}@example.com") for i in range(n)],
            context={"order_number": prefix},
        ),
    )
    return [s.pk for s in result.sends]


@pytest.fixture
def campaign():
    org, _ = org_create(name="Shop")
    return CampaignFactory(org=org, key="order-completed")


def test_a_worker_killed_five_times_mid_batch_loses_nothing_and_duplicates_at_most_the_sends_in_flight(
    worker, campaign, settings
):
    settings.HERALD_MAX_BATCH = 2000
    accept(campaign, 2000, "k")
    in_flight = 4
    env = {
        "HERALD_LEASE_SECONDS": "6",
        "HERALD_SWEEP_INTERVAL": "1",
        "HERALD_DISPATCH_IN_FLIGHT": str(in_flight),
    }
    worker.start("--concurrency=1", **env)
    kills = 0
    sent_at_start = 0
    while kills < 5:
        wait_for(
            lambda floor=sent_at_start + 40: Send.objects.filter(status="sent").count() >= floor,
            timeout=60, what="the worker to make progress", log=worker.log,
        )  # fmt: skip
        os.killpg(worker.process.pid, signal.SIGKILL)
        worker.process.wait()
        kills += 1
        sent_at_start = Send.objects.filter(status="sent").count()
        assert sent_at_start < 2000, "the batch finished before the worker could be killed mid-way"
        worker.start("--concurrency=1", **env)
    wait_for(
        lambda: Send.objects.filter(status="sent").count() == 2000, timeout=180, what="all 2,000 sent",
        log=worker.log,
    )  # fmt: skip

    counts = dispatches_per_send(worker.outbox)
    correlation_ids = {str(c) for c in Send.objects.values_list("correlation_id", flat=True)}
    assert set(counts) == correlation_ids, "every send reached the provider"
    duplicated = {cid for cid, n in counts.items() if n > 1}
    assert sum(counts[cid] - 1 for cid in duplicated) <= kills * in_flight
    marked = {
        str(c) for c in Send.objects.filter(possibly_duplicated=True).values_list("correlation_id", flat=True)
    }
    assert duplicated <= marked, "each send that went out twice is marked for support"
    assert len(marked) <= kills * in_flight
    # Counted once each, whoever recorded it: a worker before it was killed, its successor, or the sweep.
    assert metrics._totals("herald_sends") == {"email\x1fsent": 2000}


class RedisServer:
    """A Redis of the test's own, on a free port, so stopping it disturbs nothing else."""

    def __init__(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_for(self._answers, timeout=10, what="redis-server to start")

    def stop(self) -> None:
        if self.process:
            self.process.kill()
            self.process.wait()
            self.process = None

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False


@pytest.fixture
def redis_server():
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def web(redis_server, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # One Redis for broker and rate-limit counters, as in production: when it stops, both are gone.
    env = {
        **os.environ, "DATABASE_URL": database_url(), "CELERY_BROKER_URL": redis_server.url,
        "REDIS_URL": redis_server.url,
    }  # fmt: skip
    log = (tmp_path / "web.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: _get(f"{base}/api/v1/health/") is not None, timeout=20, what="the web server")
    yield base
    process.terminate()
    process.wait(timeout=10)


def _get(url: str):
    try:
        return requests.get(url, timeout=2)
    except requests.RequestException:
        return None


def test_every_trigger_answered_202_is_sent_though_the_broker_restarts_during_intake_and_dispatch(
    worker, redis_server, web, settings
):
    org, secret = org_create(name="Shop")
    CampaignFactory(org=org, key="order-completed")
    headers = {"Authorization": f"Bearer {secret}"}
    worker.start(
        CELERY_BROKER_URL=redis_server.url, REDIS_URL=redis_server.url, HERALD_LEASE_SECONDS="4",
        HERALD_SWEEP_INTERVAL="1",
    )  # fmt: skip

    accepted: list[int] = []
    statuses: list[int] = []

    def trigger(batch: int) -> None:
        body = {
            "recipients": [{"email": f"b{batch}-{i}@example.com"} for i in range(50)],
            "context": {"order_number": batch},
        }
        response = requests.post(
            f"{web}/api/v1/campaigns/order-completed/trigger/", json=body, headers=headers, timeout=30
        )
        statuses.append(response.status_code)
        if response.status_code == 202:
            accepted.extend(s["id"] for s in response.json()["sends"])

    for batch in range(5):
        trigger(batch)
    redis_server.stop()  # queued tasks are gone with it: it keeps nothing on disk
    for batch in range(5, 10):
        trigger(batch)
    redis_server.start()
    for batch in range(10, 15):
        trigger(batch)

    assert set(statuses) <= {202, 503}, f"never a 500: {statuses}"
    assert statuses.count(202) >= 10
    wait_for(
        lambda: Send.objects.filter(pk__in=accepted, status="sent").count() == len(accepted),
        timeout=120, what=f"all {len(accepted)} accepted sends to be sent", log=worker.log,
    )  # fmt: skip
    assert Send.objects.exclude(pk__in=accepted).count() == 0


def test_a_task_that_arrives_before_its_row_is_committed_does_nothing_and_the_sweep_sends_it_later(
    campaign, settings, django_capture_on_commit_callbacks
):
    settings.HERALD_LEASE_SECONDS = 1
    created = threading.Event()
    release = threading.Event()
    ids: list[int] = []

    def slow_trigger() -> None:
        # Another connection holds the trigger's transaction open while the task runs.
        with transaction.atomic():
            ids.extend(accept(campaign, 1, "early"))
            created.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=slow_trigger)
    thread.start()
    assert created.wait(10)
    assert sends_dispatch(send_ids=ids) == {}  # the row is not visible yet: nothing to claim, no error
    release.set()
    thread.join()
    assert Send.objects.get(pk=ids[0]).status == "queued"

    time.sleep(1.1)
    from config.celery import app

    # The early task was taken from the broker and ran (above, called directly): the broker holds nothing
    # for the send any more, and the sweep republishes only what waits on a drained broker.
    with app.connection_for_write() as conn:
        for queue in app.conf.task_queues:
            queue.bind(conn.default_channel).purge()
    app.conf.task_always_eager = True
    try:
        assert sends_sweep()["lost"] == 1
    finally:
        app.conf.task_always_eager = False
    assert Send.objects.get(pk=ids[0]).status == "sent"


def test_a_trigger_whose_transaction_rolls_back_leaves_nothing_and_enqueues_nothing(
    campaign, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError), transaction.atomic():
        accept(campaign, 3, "gone")
        raise RuntimeError("the caller's own transaction failed")
    assert callbacks == []
    assert not Trigger.objects.exists()
    assert not Send.objects.exists()


def _terminate_other_connections() -> int:
    """What a PostgreSQL restart does to a worker: every connection it holds dies mid-statement."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def _database_outage(seconds: float) -> None:
    """The rest of a restart: while the server is down, new connections are refused.

    Refusing connections to this test's database only (not restarting the cluster) keeps every other
    database on the machine undisturbed. PostgreSQL takes the order from another database's session.
    """
    name = sql.Identifier(connection.settings_dict["NAME"])
    with psycopg.connect(database_url().rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(name))
        try:
            _terminate_other_connections()
            time.sleep(seconds)
        finally:
            admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(name))


def test_the_worker_recovers_from_database_restarts_without_a_restart_of_its_own(worker, campaign, settings):
    settings.HERALD_MAX_BATCH = 2000
    accept(campaign, 2000, "pg")
    worker.start("--concurrency=1", HERALD_LEASE_SECONDS="6", HERALD_SWEEP_INTERVAL="1")
    pid = worker.process.pid
    floor = 0
    for _ in range(3):
        wait_for(
            lambda floor=floor + 100: Send.objects.filter(status="sent").count() >= floor,
            timeout=60, what="progress before cutting connections", log=worker.log,
        )  # fmt: skip
        wait_for(_terminate_other_connections, timeout=10, what="a worker connection to cut")
        _database_outage(seconds=2)
        floor = Send.objects.filter(status="sent").count()
    wait_for(
        lambda: Send.objects.filter(status="sent").count() == 2000, timeout=120, what="all 2,000 sent",
        log=worker.log,
    )  # fmt: skip
    assert worker.process.poll() is None and worker.process.pid == pid, "the same worker, never restarted"
    assert not Send.objects.filter(status="sending").exists()
    counts = dispatches_per_send(worker.outbox)
    assert len(counts) == 2000
    assert sum(n - 1 for n in counts.values()) <= 3, "at most the send in flight at each cut"
