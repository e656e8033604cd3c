import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from dispatch.progress import dispatch_state

logger = logging.getLogger("dispatch.supervise")
RESTART_PAUSE_SECONDS = 2.0  # a process that dies at once is not restarted in a tight loop
# Replaced once seen stalled this long: time for the health check to have said so first.
REPLACE_AFTER_SECONDS = 5.0
STOP_SECONDS = 10.0


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    started: float = 0.0

    def start(self) -> None:
        # A session of its own: stopping it stops what it started (Celery's pool, runserver's threads).
        self.process = subprocess.Popen(self.argv, start_new_session=True)
        self.started = time.monotonic()
        logger.info("started %s (pid %s): %s", self.name, self.process.pid, " ".join(self.argv))

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)  # works on a stopped (SIGSTOPped) process too
            self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()


class Command(BaseCommand):
    help = (
        "Run Herald on one machine: the web server, a Celery worker, beat and the sweeper. Any of them "
        "that exits is started again, and a worker that holds back due sends for longer than the lease "
        "(dispatch/progress.py) is killed and replaced. What `make run` starts."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--concurrency", type=int, default=2, help="Worker threads or processes.")

    def handle(self, *args, port: int, concurrency: int, **options):
        python = sys.executable
        children = [
            Child("web", [python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--insecure"]),
            Child("worker", [python, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO",
                             f"--concurrency={concurrency}", "--without-gossip", "--without-mingle"]),
            Child("beat", [python, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO"]),
            Child("sweeper", [python, "manage.py", "sweep"]),
        ]  # fmt: skip
        worker = children[1]
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        for child in children:
            child.start()
        checked = time.monotonic()
        try:
            while not stopping:
                time.sleep(1)
                for child in children:
                    code = child.exited()
                    if code is not None and time.monotonic() - child.started > RESTART_PAUSE_SECONDS:
                        logger.warning("%s exited (%s); starting it again", child.name, code)
                        child.start()
                # A new worker gets a lease to show progress before it is judged.
                now = time.monotonic()
                if now - checked >= settings.HERALD_SWEEP_INTERVAL:
                    checked = now
                    if now - worker.started > settings.HERALD_LEASE_SECONDS:
                        self._replace_if_stalled(worker)
        finally:
            for child in children:
                child.stop()

    stalled_since: float | None = None

    def _replace_if_stalled(self, worker: Child) -> None:
        try:
            state = dispatch_state()
        except Exception:  # the database is down: nothing a new worker would fix
            logger.warning("dispatch state not read", exc_info=True)
            return
        finally:
            close_old_connections()
        if not state.stalled:
            self.stalled_since = None
            return
        now = time.monotonic()
        if self.stalled_since is None:
            self.stalled_since = now
            logger.error("dispatch stalled: %s", state.reason)
        if now - self.stalled_since >= REPLACE_AFTER_SECONDS:
            logger.error("replacing the worker (pid %s): %s", worker.process.pid, state.reason)
            self.stalled_since = None
            worker.kill()
            worker.start()
