"""The embedded default, started the way `make run` starts it (SQLite, the filesystem broker, the
supervisor): its worker killed again and again, and frozen while it holds due sends."""

import json
import os
import signal
import socket
import sqlite3
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import ROOT, dispatches_per_send, wait_for

pytestmark = pytest.mark.slow

LEASE = 10
IN_FLIGHT = 4
SERVICES = {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL"}  # unset: the embedded default
METRICS_TOKEN = "scrape-me"
CONCURRENCY = 2  # what `make run` gives the worker: tasks on two threads of one process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Embedded:
    """`make run` in a folder of its own, and what a user would look at: the API, the send log, the outbox."""

    def __init__(self, var: Path):
        self.var = var
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = var / "run.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in SERVICES},
            "HERALD_VAR_DIR": str(var),
            "HERALD_LEASE_SECONDS": str(LEASE),
            "HERALD_SWEEP_INTERVAL": "1",
            "HERALD_DISPATCH_IN_FLIGHT": str(IN_FLIGHT),
            "HERALD_RATE_LIMIT_PER_MINUTE": "0",
            "HERALD_METRICS_TOKEN": METRICS_TOKEN,
        }  # fmt: skip
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["make", "--no-print-directory", "run", f"PORT={self.port}"], cwd=ROOT, env=self.env,
            stdout=self.log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        wait_for(self.healthy, timeout=120, what="make run to answer", log=self.log)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        for pid in self.descendants():  # each child runs in a session of its own
            os.kill(pid, signal.SIGKILL)

    def health(self) -> requests.Response | None:
        try:
            return requests.get(f"{self.url}/api/v1/health/", timeout=5)
        except requests.RequestException:
            return None

    def healthy(self) -> bool:
        response = self.health()
        return response is not None and response.status_code == 200

    def manage(self, *args: str) -> str:
        return subprocess.run(
            [str(ROOT / ".venv/bin/python"), "manage.py", *args], cwd=ROOT, env=self.env, check=True,
            capture_output=True, text=True,
        ).stdout  # fmt: skip

    def campaign(self) -> dict:
        token = json.loads(self.manage("create_org", "Shop", "--json"))["token"]
        headers = {"Authorization": f"Bearer {token}"}
        mailing = requests.post(f"{self.url}/api/v1/mailings/", headers=headers, timeout=30, json={
            "name": "Order", "channel": "email", "from_email": "shop@example.com",
            "subject": "Order {{ context.order_number }}", "text": "Thanks, {{ recipient.email }}.",
        })  # fmt: skip
        assert mailing.status_code == 201, mailing.text
        campaign = requests.post(f"{self.url}/api/v1/campaigns/", headers=headers, timeout=30, json={
            "key": "order-completed", "name": "Order completed", "email_mailing": mailing.json()["id"],
        })  # fmt: skip
        assert campaign.status_code == 201, campaign.text
        return headers

    def trigger(self, headers: dict, prefix: str, n: int) -> None:
        response = requests.post(
            f"{self.url}/api/v1/campaigns/order-completed/trigger/", headers=headers, timeout=60,
            json={"recipients": [{"email": f"{prefix}{i}@example.com"} for i in range(n)],
                  "context": {"order_number": prefix}},
        )  # fmt: skip
        assert response.status_code == 202, response.text

    def sends_counted(self) -> dict[str, float]:
        """herald_sends_total at /metrics, by status."""
        scraper = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        response = requests.get(f"{self.url}/metrics", headers=scraper, timeout=10)
        assert response.status_code == 200, response.text
        return {
            sample.labels["status"]: sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
            if sample.name == "herald_sends_total"
        }

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.var / 'herald.sqlite3'}?mode=ro", uri=True, timeout=30)

    def statuses(self) -> Counter:
        with self.db() as db:
            return Counter(dict(db.execute("SELECT status, COUNT(*) FROM sends_send GROUP BY status")))

    def marked(self) -> set[str]:
        """The correlation ids of sends marked possibly duplicated (SQLite keeps a UUID without dashes)."""
        with self.db() as db:
            return {
                row[0]
                for row in db.execute("SELECT correlation_id FROM sends_send WHERE possibly_duplicated")
            }

    def dispatches(self) -> Counter:
        return Counter(
            {cid.replace("-", ""): n for cid, n in dispatches_per_send(self.var / "outbox").items()}
        )

    def descendants(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for pid, parent in _parents().items():
            children.setdefault(parent, []).append(pid)
        found, todo = [], [self.process.pid] if self.process else []
        while todo:
            for child in children.get(todo.pop(), []):
                found.append(child)
                todo.append(child)
        return found

    def task_process(self) -> int:
        """The process that runs tasks: a pool process if the worker has any, else the worker itself."""
        parents = _parents()
        for pid in self.descendants():
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            if b"celery -A config worker" in cmdline:
                pool = [p for p, parent in parents.items() if parent == pid]
                return pool[0] if pool else pid
        raise AssertionError(f"no worker process under make run\n{self.log.read_text()[-3000:]}")


def _parents() -> dict[int, int]:
    """Every process's parent, from /proc (a process that ends while it is read is left out)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
    return parents


@pytest.fixture
def embedded(tmp_path):
    stack = Embedded(tmp_path)
    stack.start()
    yield stack
    stack.stop()


def test_make_run_sends_everything_though_its_worker_is_killed_after_each_of_five_triggers(embedded):
    headers = embedded.campaign()
    for kill in range(5):
        embedded.trigger(headers, f"k{kill}-", 1000)
        wait_for(lambda floor=kill * 1000 + 50: embedded.statuses()["sent"] >= floor, timeout=60,
                 what="the worker to make progress", log=embedded.log)  # fmt: skip
        os.kill(embedded.task_process(), signal.SIGKILL)

    wait_for(lambda: embedded.statuses() == Counter(sent=5000), timeout=120,
             what="every send to be sent within two minutes of the last kill", log=embedded.log)  # fmt: skip
    dispatches = embedded.dispatches()
    assert len(dispatches) == 5000
    duplicated = {cid for cid, n in dispatches.items() if n > 1}
    # Each kill takes the provider calls in flight of each task the worker was running.
    assert sum(dispatches.values()) - 5000 <= 5 * CONCURRENCY * IN_FLIGHT
    assert duplicated <= embedded.marked()
    assert embedded.sends_counted() == {"sent": 5000}, "each send counted once, whoever recorded it"
    assert embedded.healthy()


def test_a_frozen_worker_turns_health_red_and_is_replaced_without_anyone(embedded):
    headers = embedded.campaign()
    embedded.trigger(headers, "f", 1000)
    wait_for(lambda: embedded.statuses()["sent"] >= 1, timeout=60, what="the first send", log=embedded.log)
    frozen = embedded.task_process()
    os.kill(frozen, signal.SIGSTOP)
    try:
        assert embedded.statuses()["sent"] < 1000, "the worker finished before it could be frozen"
        # (A Response is falsy when it is not 2xx: the condition returns its body.)
        body = wait_for(
            lambda: (r := embedded.health()) is not None and r.status_code == 503 and r.json(),
            timeout=LEASE + 30, what="health to answer 503", log=embedded.log,
        )  # fmt: skip
        assert body["status"] == "stalled"
        assert body["dispatch"]["stalled"] is True
        assert "sends due" in body["dispatch"]["reason"]
        assert body["dispatch"]["due"] > 0

        wait_for(lambda: embedded.statuses() == Counter(sent=1000), timeout=LEASE * 4 + 60,
                 what="the frozen worker replaced and the sends out", log=embedded.log)  # fmt: skip
        assert not Path(f"/proc/{frozen}").exists(), "the frozen worker lives on"
        wait_for(embedded.healthy, timeout=30, what="health to be 200 again", log=embedded.log)
        assert b"replacing the worker" in embedded.log.read_bytes()
    finally:
        if Path(f"/proc/{frozen}").exists():
            os.kill(frozen, signal.SIGCONT)
