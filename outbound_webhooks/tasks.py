from celery import shared_task

from .deliveries import webhook_deliveries_sweep, webhook_delivery_attempt
from .queue import DELIVER_TASK


@shared_task(name=DELIVER_TASK, ignore_result=True)
def deliver_webhook(delivery_id: int, attempts: int = 0) -> str | None:
    return webhook_delivery_attempt(delivery_id=delivery_id, attempts=attempts)


@shared_task(ignore_result=True)
def sweep_webhooks() -> int:
    return webhook_deliveries_sweep()
