from celery import shared_task

from sends.queue import DISPATCH_TASK

from .chunk import sends_dispatch
from .progress import progress_note
from .sweep import sends_sweep


@shared_task(name=DISPATCH_TASK, ignore_result=True, bind=True)
def dispatch_sends(self, send_ids: list[int]) -> dict[str, int]:
    counts = sends_dispatch(send_ids=send_ids)
    if self.request.hostname:  # a worker's, not an eager call's
        progress_note(worker=self.request.hostname)
    return counts


@shared_task(ignore_result=True)
def sweep_sends() -> dict[str, int]:
    return sends_sweep()
