from django.apps import AppConfig


class MailingsConfig(AppConfig):
    name = "mailings"

    def ready(self) -> None:
        from anymail.signals import tracking
        from django.core.signals import request_finished

        from .events import on_tracking

        # dispatch_uid: connected once even if ready() runs twice (as it can in tests).
        tracking.connect(on_tracking, dispatch_uid="herald.mailings.tracking")
        # What a request counted (a trigger, a provider's event) goes to the shared totals as it ends.
        request_finished.connect(_flush_metrics, dispatch_uid="herald.mailings.metrics")


def _flush_metrics(**kwargs) -> None:
    from . import metrics

    metrics.flush()
