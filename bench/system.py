"""The system under test: its databases, its Redis database, and the web and worker processes.

Everything is on 127.0.0.1 and in databases of the benchmark's own (herald_bench*, Redis db 11), so a run
never touches anyone else's data. Every process started here runs in its own process group and is
stopped, with its children, by `Service.stop` (the driver calls it in a `finally`).
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import psycopg
import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
POSTGRES = os.getenv("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.getenv("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
DB = "herald_bench"
PEER_DB = "herald_bench_peer"
BACKEND = "bench.backends.CountingEmailBackend"
CPUS = os.cpu_count() or 1
WEB_WORKERS = int(os.getenv("BENCH_WEB_WORKERS", 2 * CPUS))
WORKER_CONCURRENCY = int(os.getenv("BENCH_WORKER_CONCURRENCY", CPUS))

for _url in (POSTGRES, REDIS_URL):
    if "127.0.0.1" not in _url and "localhost" not in _url:
        raise SystemExit(f"The benchmark only talks to 127.0.0.1, not {_url}.")


def database_url(name: str) -> str:
    return f"{POSTGRES}/{name}"


def _admin() -> psycopg.Connection:
    return psycopg.connect(database_url("postgres"), autocommit=True)


def database_exists(name: str) -> bool:
    with _admin() as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def database_recreate(name: str) -> None:
    assert name.startswith("herald_bench"), name  # never anyone else's database
    from django.db import connections

    connections.close_all()
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_drop(name: str) -> None:
    assert name.startswith("herald_bench"), name
    from django.db import connections

    connections.close_all()
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(name: str, settings: str = "config.settings") -> None:
    env = service_env(database=name, DJANGO_SETTINGS_MODULE=settings)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )


def server_versions() -> str:
    with _admin() as conn:
        postgres = conn.execute("SHOW server_version").fetchone()[0].split()[0]
    redis_version = redis.Redis.from_url(REDIS_URL).info("server")["redis_version"]
    return f"PostgreSQL {postgres}, Redis {redis_version}, Python {sys.version.split()[0]}"


def redis_flush() -> None:
    redis.Redis.from_url(REDIS_URL).flushdb()


def service_env(*, database: str = DB, **extra: str) -> dict[str, str]:
    """The production configuration (PostgreSQL, Redis, an Anymail backend), pointed at the bench's own."""
    VAR.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(database),
        "CELERY_BROKER_URL": REDIS_URL,
        "REDIS_URL": REDIS_URL,
        "EMAIL_BACKEND": BACKEND,
        "HERALD_VAR_DIR": str(VAR),
        "DEBUG": "false",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition: Callable[[], Any], *, timeout: float, what: str, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(every)
    raise TimeoutError(f"Timed out after {timeout:.0f}s waiting for {what}.")


class Service:
    """A process (and its children) in a process group of its own, logging to var/bench/<name>.log."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]):
        self.name = name
        self.log = VAR / f"{name}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def processes(self) -> list[psutil.Process]:
        try:
            main = psutil.Process(self.process.pid)
            return [main, *main.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            with _suppress_lookup():
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with _suppress_lookup():
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        # Children that outlived their parent are still in the group.
        with _suppress_lookup():
            os.killpg(self.process.pid, signal.SIGKILL)


class _suppress_lookup:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback) -> bool:
        return kind is not None and issubclass(kind, ProcessLookupError | PermissionError)


class Web(Service):
    """gunicorn with sync workers, as README's "Running in production" runs it, on a loopback port."""

    def __init__(self, workers: int = WEB_WORKERS):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        argv = [
            sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(workers), "--worker-class", "sync", "--timeout", "120",
        ]  # fmt: skip
        super().__init__("web", argv, service_env())
        wait_until(self._healthy, timeout=60, what=f"gunicorn on {self.url}\n{self.log_tail()}")

    def _healthy(self) -> bool:
        if not self.alive():
            raise RuntimeError(f"gunicorn exited:\n{self.log_tail()}")
        try:
            return requests.get(f"{self.url}/api/v1/health/", timeout=5).status_code == 200
        except requests.RequestException:  # not listening yet, or too slow on a busy machine: ask again
            return False


class Worker(Service):
    """A Celery worker (prefork, one process per core by default) consuming Herald's queues from Redis, or
    only `queue`: production's dedicated interactive workers (docs/operations.md)."""

    def __init__(
        self, concurrency: int = WORKER_CONCURRENCY, *, queue: str | None = None, env: dict | None = None,
        pool: str = "prefork",
    ):  # fmt: skip
        self.concurrency = concurrency
        name = f"worker-{queue}" if queue else "worker"
        argv = [
            sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO", f"--pool={pool}",
            f"--concurrency={concurrency}", "--without-gossip", "--without-mingle", "--without-heartbeat",
            "--hostname", f"bench-{name}-{os.getpid()}@%h", *(["--queues", queue] if queue else []),
        ]  # fmt: skip
        self.log = VAR / f"{name}.log"
        start = self._log_size()
        super().__init__(name, argv, service_env(**(env or {})))
        wait_until(
            lambda: self._ready(start), timeout=60, what=f"the Celery worker to be ready\n{self.log_tail()}"
        )

    def _log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def _ready(self, start: int) -> bool:
        if not self.alive():
            raise RuntimeError(f"the Celery worker exited:\n{self.log_tail()}")
        with self.log.open("rb") as log:
            log.seek(start)
            return b" ready." in log.read()


class Sweeper(Service):
    """`manage.py sweep`, as production runs it beside the workers: it releases scheduled sends when due."""

    def __init__(self, interval: float = 1.0):
        argv = [sys.executable, "manage.py", "sweep"]
        super().__init__("sweep", argv, service_env(HERALD_SWEEP_INTERVAL=str(interval)))
