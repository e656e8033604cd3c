from celery import shared_task

from .services import sends_dispatch, sends_sweep
from .webhooks import webhook_deliveries_sweep, webhook_delivery_attempt


@shared_task(ignore_result=True)
def dispatch_sends(send_ids: list[int]) -> dict[str, int]:
    return sends_dispatch(send_ids=send_ids)


@shared_task(ignore_result=True)
def sweep_sends() -> dict[str, int]:
    return sends_sweep()


@shared_task(ignore_result=True)
def deliver_webhook(delivery_id: int, attempts: int = 0) -> str | None:
    return webhook_delivery_attempt(delivery_id=delivery_id, attempts=attempts)


@shared_task(ignore_result=True)
def sweep_webhooks() -> int:
    return webhook_deliveries_sweep()
