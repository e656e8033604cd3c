from django.apps import AppConfig


class DialectsConfig(AppConfig):
    name = "dialects"

    def ready(self) -> None:
        from outbound_webhooks.payloads import payload_format_register

        from . import howto  # noqa: F401  (registers the admin's how-to-call examples)
        from .parcellab_feedback import PARCELLAB

        payload_format_register(PARCELLAB)
