import os
import signal
import socket
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from dispatch.progress import dispatch_state


class Command(BaseCommand):
    help = (
        "A worker container's health check: fails (exit 1) while sends have been due for longer than the "
        "lease and this worker has not finished a chunk in that time. With --pidfile, it also ends that "
        "worker, so the container's restart policy starts a new one (Docker itself restarts only what exits)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--worker",
            default=f"celery@{socket.gethostname()}",
            help="The worker's Celery node name (default: Celery's own default on this host).",
        )
        parser.add_argument("--pidfile", help="The worker's --pidfile: kill that process when it is stuck.")

    def handle(self, *args, worker: str, pidfile: str | None = None, **options):
        if pidfile and _age(pidfile) < settings.HERALD_LEASE_SECONDS:
            self.stdout.write(f"{worker}: started less than a lease ago")
            return
        state = dispatch_state(worker=worker)
        if not state.stalled:
            self.stdout.write(f"{worker}: ok ({state.due} sends due)")
            return
        self.stderr.write(f"{worker}: stalled: {state.reason}")
        if pidfile:
            pid = int(Path(pidfile).read_text().strip())
            self.stderr.write(f"{worker}: killing pid {pid}")
            os.kill(pid, signal.SIGKILL)
        sys.exit(1)


def _age(path: str) -> float:
    try:
        return time.time() - Path(path).stat().st_mtime
    except FileNotFoundError:
        return 0.0  # not started yet
