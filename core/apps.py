from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"

    def ready(self) -> None:
        from django.core.signals import request_finished

        # What a request counted (a trigger, a provider's event) goes to the shared totals as it ends.
        request_finished.connect(_flush_metrics, dispatch_uid="herald.core.metrics")


def _flush_metrics(**kwargs) -> None:
    from . import metrics

    metrics.flush()
