"""Outbound webhooks: an org's endpoints, each notification owed to one, and every attempt at it."""

import secrets
import uuid

from django.db import models
from django.utils import timezone

from orgs.models import Org
from sends.models import Send


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class WebhookEndpoint(models.Model):
    """An org's subscription to what became of its sends: a URL, the statuses it wants, a signing secret."""

    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.CharField(max_length=2000)
    events = models.JSONField(
        default=list, blank=True, help_text="Send statuses to notify; empty: every final outcome."
    )
    # One of outbound_webhooks.payloads.formats(): Herald's own, or a vendor's that its dialect registers.
    format = models.CharField(max_length=16, default="native")
    # Kept as given, not hashed: every delivery is signed with it. Shown once, when the endpoint is created.
    secret = models.CharField(max_length=64, default=new_webhook_secret, editable=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["org"], condition=models.Q(active=True), name="webhook_active")]

    def __str__(self) -> str:
        return f"{self.url} ({self.format})"


class WebhookDelivery(models.Model):
    """One notification to one endpoint: written with the outcome it tells of, retried until a 2xx."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    send = models.ForeignKey(
        Send, on_delete=models.SET_NULL, null=True, blank=True, related_name="webhook_deliveries"
    )
    # What receivers deduplicate on: the same for every attempt and replay of this notification.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event = models.CharField(max_length=12, help_text="The send status this notification tells of.")
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When the sweep hands it to a worker (again), if nothing has."
    )
    retry_until = models.DateTimeField(help_text="A failed attempt at or after this gives up.")
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["endpoint", "-id"], name="webhook_delivery_latest"),
            models.Index(
                fields=["next_attempt_at"], condition=models.Q(status="pending"), name="webhook_delivery_due"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.endpoint.url} ({self.status})"


class WebhookAttempt(models.Model):
    """One POST of a delivery (redirects followed included), whatever came of it."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(default=timezone.now)
    url = models.CharField(max_length=2000, help_text="Where it went last, after any redirects.")
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.status_code or self.error[:40]} at {self.at:%Y-%m-%d %H:%M:%S}"
