from django.apps import AppConfig


class ProviderEventsConfig(AppConfig):
    name = "provider_events"

    def ready(self) -> None:
        from anymail.signals import tracking

        from .tracking import on_tracking

        # dispatch_uid: connected once even if ready() runs twice (as it can in tests).
        tracking.connect(on_tracking, dispatch_uid="herald.provider_events.tracking")
