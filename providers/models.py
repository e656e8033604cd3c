import hashlib

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from mailings.models import Channel
from orgs.models import Org

from . import secrets
from .kinds import KIND_CHOICES, KINDS


class Provider(models.Model):
    """One of an org's provider accounts for a channel: tried in `position` order, the first that takes a
    send sends it. An org with none uses the server's EMAIL_BACKEND and SMS_BACKEND."""

    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="providers")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    kind = models.CharField(max_length=20, choices=KIND_CHOICES)
    name = models.CharField(max_length=100, help_text="Your name for this account, e.g. 'Postmark EU'.")
    position = models.PositiveIntegerField(default=0, help_text="Lower first.")
    enabled = models.BooleanField(default=True)
    options = models.JSONField(default=dict, blank=True, help_text="Settings that are not secret.")
    # The account's own limits, kept by every worker together (dispatch/limits.py); 0: none.
    max_in_flight = models.PositiveIntegerField(
        default=0, validators=[MaxValueValidator(10_000)], help_text="Most calls at once; 0: no limit."
    )
    per_second = models.PositiveIntegerField(
        default=0, validators=[MaxValueValidator(100_000)], help_text="Most messages a second; 0: no limit."
    )
    # Write-only: encrypted with HERALD_PROVIDER_KEYS (providers.secrets), never shown or logged.
    credentials_encrypted = models.TextField(editable=False)
    credential_names = models.JSONField(default=list, editable=False, help_text="Which are set, not what.")
    # The basic-auth `user:pass` its tracking webhooks must carry, hashed: shown once, when it is made.
    tracking_secret_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["org", "channel", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="provider_org_name")]
        indexes = [models.Index(fields=["org", "channel", "position"], name="provider_org_channel")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()}, {self.channel})"

    @property
    def spec(self):
        return KINDS[self.kind]

    @property
    def credentials(self) -> dict[str, str]:
        """Decrypted, for the backend that sends through it: never for an answer, a page or a log."""
        return secrets.decrypt(self.credentials_encrypted)

    def set_credentials(self, credentials: dict[str, str]) -> None:
        self.credentials_encrypted = secrets.encrypt(credentials)
        self.credential_names = sorted(credentials)


def status_callback_url(provider: "Provider | None") -> str:
    """The callback URL Twilio is given, exactly (its signature covers it): the server's, or with the org's
    provider named."""
    base = settings.TWILIO_STATUS_CALLBACK_URL
    if not base or provider is None:
        return base
    return f"{base}{'&' if '?' in base else '?'}provider={provider.pk}"


def tracking_url(provider: Provider) -> str | None:
    """Where the account posts its delivery events (its webhook secret goes with them as basic auth); None
    for a kind that posts none to Herald's Anymail views."""
    if provider.pk is None or not provider.spec.tracking:
        return None
    path = reverse("provider-tracking", kwargs={"provider_id": provider.pk})
    return settings.HERALD_PUBLIC_URL.rstrip("/") + path


def tracking_secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
