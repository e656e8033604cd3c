from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    """Retention and erasure: they reach into every app below, so they sit above them all."""

    name = "privacy"
