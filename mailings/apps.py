from django.apps import AppConfig


class MailingsConfig(AppConfig):
    name = "mailings"

    def ready(self) -> None:
        from anymail.signals import tracking

        from .events import on_tracking

        # dispatch_uid: connected once even if ready() runs twice (as it can in tests).
        tracking.connect(on_tracking, dispatch_uid="herald.mailings.tracking")
