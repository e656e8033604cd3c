from django.apps import AppConfig


class DialectsConfig(AppConfig):
    name = "dialects"

    def ready(self) -> None:
        # intake is no installed app: the floor above it wires its invitation sender into orgs.members.
        from intake import invitations  # noqa: F401
        from outbound_webhooks.payloads import payload_format_register

        from . import howto  # noqa: F401  (registers the admin's how-to-call examples)
        from .parcellab_feedback import PARCELLAB

        payload_format_register(PARCELLAB)
