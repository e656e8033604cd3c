"""Addresses an org no longer sends to, why, and the provider's event that caused it."""

import hashlib

from django.db import models
from django.utils import timezone

from orgs.models import Org
from recipients.models import normalize_address
from sends.models import DeliveryEvent


class Suppression(models.Model):
    """An address an org no longer sends to: it hard-bounced, complained or unsubscribed, or staff said so."""

    class Reason(models.TextChoices):
        BOUNCED = "bounced"
        COMPLAINED = "complained"
        UNSUBSCRIBED = "unsubscribed"
        MANUAL = "manual"
        ERASED = "erased"

    class Scope(models.TextChoices):
        ALL = "all", "All mail"
        MARKETING = "marketing", "Marketing mail only"

    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="suppressions")
    address = models.CharField(
        max_length=320, blank=True,
        help_text="An email address (lower case) or a phone number; empty once erased (the hash remains).",
    )  # fmt: skip
    address_hash = models.CharField(max_length=64, editable=False)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    # An unsubscribe stops marketing mail only: the order confirmation still goes.
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.ALL)
    source_event = models.ForeignKey(
        DeliveryEvent, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="The provider's event that caused it, if any.",
    )  # fmt: skip
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["org", "address_hash"], name="suppression_address_hash_per_org")
        ]

    def __str__(self) -> str:
        return f"{self.address or '(erased address)'} ({self.reason})"

    def save(self, *args, **kwargs):
        if self.address:
            self.address = normalize_address(self.address)
            self.address_hash = address_hash(self.org_id, self.address)
        super().save(*args, **kwargs)

    def applies_to(self, *, marketing: bool) -> bool:
        return self.scope == self.Scope.ALL or marketing


def scope_for(reason: str) -> str:
    return Suppression.Scope.MARKETING if reason == Suppression.Reason.UNSUBSCRIBED else Suppression.Scope.ALL


def address_hash(org_id: int, address: str) -> str:
    """How a suppression finds an address, kept when the address itself is erased.

    Salted with the org, so one person's hashes differ from org to org. It is a pseudonym, not anonymity:
    whoever holds a candidate address can test it, which is exactly what dispatch must be able to do.
    """
    return hashlib.sha256(f"{org_id}:{normalize_address(address)}".encode()).hexdigest()
