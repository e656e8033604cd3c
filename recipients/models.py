import hashlib

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from orgs.models import Org


class Recipient(models.Model):
    """A person an org sends to. Email and external id are each unique within an org when given."""

    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="recipients")
    email = models.EmailField(max_length=254, null=True, blank=True)
    phone = models.CharField(max_length=32, null=True, blank=True)
    external_id = models.CharField(max_length=200, null=True, blank=True)
    first_name = models.CharField(max_length=150, blank=True, default="")
    last_name = models.CharField(max_length=150, blank=True, default="")
    locale = models.CharField(max_length=35, blank=True, default="")
    attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["org", "email"],
                condition=models.Q(email__isnull=False),
                name="recipient_email_per_org",
                violation_error_message="Another recipient of this org has this email address.",
            ),
            models.UniqueConstraint(
                fields=["org", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="recipient_external_id_per_org",
                violation_error_message="Another recipient of this org has this external id.",
            ),
        ]
        indexes = [models.Index(fields=["org", "phone"], name="recipient_phone_idx")]

    def __str__(self) -> str:
        return self.email or self.phone or self.external_id or f"recipient {self.pk}"

    def save(self, *args, **kwargs):
        self.email = normalize_email(self.email)
        self.phone = self.phone or None
        self.external_id = self.external_id or None
        super().save(*args, **kwargs)

    def address_for(self, channel: str) -> str | None:
        return self.email if channel == "email" else self.phone

    def as_template_data(self) -> dict:
        """What a marketer's template sees as `recipient`: plain data, no model methods."""
        return {
            **{k: v for k, v in self.attributes.items() if isinstance(k, str) and k.isidentifier()},
            "id": self.pk,
            "email": self.email or "",
            "phone": self.phone or "",
            "external_id": self.external_id or "",
            "first_name": self.first_name,
            "last_name": self.last_name,
            "locale": self.locale,
            "attributes": self.attributes,
        }


def normalize_email(email: str | None) -> str | None:
    # Mailbox providers treat addresses case-insensitively in practice; one spelling per person avoids
    # duplicate recipients for "Ann@Shop.com" and "ann@shop.com".
    return email.strip().lower() if email else None


def normalize_phone(phone: str | None) -> str | None:
    """The number in E.164 (+4915112345678), or None when it is no valid phone number.

    A number without its country code is read as one of HERALD_PHONE_REGION; with no region set, only
    international numbers (+49…, 0049…) are numbers. Valid means libphonenumber's rules for the country
    (length, prefixes), so a typo is refused here rather than failing at the SMS provider.
    """
    text = (phone or "").strip()
    region = settings.HERALD_PHONE_REGION or None
    if region is None and text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_phone(value: str | None) -> str | None:
    """The number in E.164, or None for none; a ValidationError (forms, serializers) for a bad one.

    What the API, the admin and the admin's test sends all check a phone number with.
    """
    if not value:
        return None
    phone = normalize_phone(value)
    if phone is None:
        raise ValidationError(f"'{value}' is not a valid phone number (give it with its country code, +49…).")
    return phone


def normalize_address(address: str) -> str:
    """One spelling of an email address or phone number, as suppressions store and look it up."""
    if "@" in address:
        return normalize_email(address) or ""
    return normalize_phone(address) or address.strip()


def address_hash(org_id: int, address: str) -> str:
    """How a suppression finds an address, kept when the address itself is erased.

    Salted with the org, so one person's hashes differ from org to org. It is a pseudonym, not anonymity:
    whoever holds a candidate address can test it, which is exactly what dispatch must be able to do.
    """
    return hashlib.sha256(f"{org_id}:{normalize_address(address)}".encode()).hexdigest()


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
    # A string reference: recipients sits below mailings and imports nothing from it.
    source_event = models.ForeignKey(
        "mailings.DeliveryEvent", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
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
