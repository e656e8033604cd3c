"""Real processes: a Celery worker with beat, and the sweeper, against the test PostgreSQL and Redis."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class Worker:
    def __init__(self, outbox: Path, log: Path):
        self.outbox = outbox
        self.log = log
        self.process: subprocess.Popen | None = None
        self.sweeper: subprocess.Popen | None = None

    def start(self, *extra: str, **env: str) -> None:
        environment = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "EMAIL_BACKEND": "dispatch.outbox.OutboxEmailBackend",
            "SMS_BACKEND": "dispatch.sms.OutboxSMSBackend",
            "HERALD_OUTBOX_DIR": str(self.outbox),
            "HERALD_SWEEP_INTERVAL": "1",
            "HERALD_VAR_DIR": str(self.log.parent),
            **env,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--beat", "--loglevel=INFO",
             "--concurrency=2", "--without-gossip", "--without-mingle", *extra],
            cwd=ROOT, env=environment, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        if self.sweeper is None or self.sweeper.poll() is not None:
            # A process of its own, as in production: killing the worker does not stop it.
            self.sweeper = subprocess.Popen(
                [sys.executable, "manage.py", "sweep"], cwd=ROOT, env=environment,
                stdout=self.log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def stop(self) -> None:
        self.process = _stop(self.process)

    def stop_all(self) -> None:
        self.stop()
        self.sweeper = _stop(self.sweeper)

    def messages(self) -> list[Path]:
        return sorted(self.outbox.glob("*.eml")) + sorted(self.outbox.glob("*.json"))


def _stop(process: subprocess.Popen | None) -> None:
    if process and process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def dispatches_per_send(outbox: Path) -> Counter:
    """How often the provider (the outbox) received each send, by the Message-ID Herald gives it."""
    counts: Counter = Counter()
    for path in outbox.glob("*.eml"):
        with path.open("rb") as f:
            for line in f:
                if line.lower().startswith(b"message-id:"):
                    counts[line.split(b"<", 1)[1].split(b"@", 1)[0].decode()] += 1
                    break
    return counts


def wait_for(condition, *, timeout: float = 30, what: str = "condition", log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    detail = log.read_text()[-4000:] if log and log.exists() else ""
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}.\n{detail}")


@pytest.fixture
def worker(django_db_setup, django_db_blocker, tmp_path):
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()  # no task left from an earlier run
    w = Worker(outbox=tmp_path / "outbox", log=tmp_path / "worker.log")
    yield w
    w.stop_all()
