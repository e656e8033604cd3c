from celery import shared_task

from sends.queue import DISPATCH_TASK

from .chunk import sends_dispatch
from .sweep import sends_sweep


@shared_task(name=DISPATCH_TASK, ignore_result=True)
def dispatch_sends(send_ids: list[int]) -> dict[str, int]:
    return sends_dispatch(send_ids=send_ids)


@shared_task(ignore_result=True)
def sweep_sends() -> dict[str, int]:
    return sends_sweep()
