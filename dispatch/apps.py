from django.apps import AppConfig


class DispatchConfig(AppConfig):
    name = "dispatch"

    def ready(self) -> None:
        # Registered in every process, not only in workers: a task published by name (see queue.py) runs
        # in-process when CELERY_TASK_ALWAYS_EAGER is on.
        from providers.testing import test_sender_register

        from . import tasks  # noqa: F401
        from .accounts import provider_test_send

        test_sender_register(provider_test_send)
