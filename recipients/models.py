import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from core.inputs import validate_timezone
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

    # After the dates: in the class body this name would hide django.utils.timezone from them.
    timezone = models.CharField(
        max_length=64, blank=True, default="", db_default="", validators=[validate_timezone],
        help_text="IANA zone (Europe/Berlin) for send windows; empty: the org's.",
    )  # fmt: skip

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
