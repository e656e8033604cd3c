import logging
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from dispatch.sweep import sends_sweep
from outbound_webhooks.deliveries import webhook_deliveries_sweep

logger = logging.getLogger("dispatch.sweep")


class Command(BaseCommand):
    help = (
        "Every HERALD_SWEEP_INTERVAL seconds: release scheduled sends that are due, take back what lost "
        "its worker, and re-queue what the broker lost (sends and webhook deliveries). Run exactly one."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Sweep once and exit.")

    def handle(self, *args, once: bool = False, **options):
        # A process of its own, not a task: a worker that hangs, or a broker that stops delivering, must
        # not stop the one thing that recovers from both.
        while True:
            started = time.monotonic()
            try:
                sends_sweep()
                webhook_deliveries_sweep()
            except Exception:  # a database restart, say: log it and sweep again next time
                logger.exception("sweep failed; trying again in %s s", settings.HERALD_SWEEP_INTERVAL)
            finally:
                close_old_connections()
            if once:
                return
            time.sleep(max(0.0, settings.HERALD_SWEEP_INTERVAL - (time.monotonic() - started)))
