from django.apps import AppConfig


class OutboundWebhooksConfig(AppConfig):
    name = "outbound_webhooks"

    def ready(self) -> None:
        # Registered in every process, not only in workers: a task published by name (see queue.py) runs
        # in-process when CELERY_TASK_ALWAYS_EAGER is on.
        from . import tasks  # noqa: F401
