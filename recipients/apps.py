from django.apps import AppConfig


class RecipientsConfig(AppConfig):
    name = "recipients"

    def ready(self) -> None:
        from . import admin_suppressions  # noqa: F401  (registers the suppression admin)
