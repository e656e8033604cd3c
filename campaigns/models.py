import functools
import secrets
import uuid

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from core.inputs import MAX_SCHEDULE_SECONDS
from mailings.models import Channel, Mailing
from orgs.models import Org

from .windows import Window, validate_windows, windows_parse


def new_link_id() -> str:
    return secrets.token_hex(24)


class CampaignKind(models.TextChoices):
    """Marketing mail carries one-click unsubscribe links and heeds unsubscribes; transactional does not."""

    TRANSACTIONAL = "transactional", "Transactional"
    MARKETING = "marketing", "Marketing"


class CapScope(models.TextChoices):
    CAMPAIGN = "campaign", "This campaign"
    MARKETING = "marketing", "Every marketing campaign"


class Campaign(models.Model):
    """A trigger definition: what an application names when something happens, and what it sends."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        PAUSED = "paused"

    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="campaigns")
    key = models.CharField(
        max_length=100,
        validators=[RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", "Letters, digits, '_', '.', '-'.")],
        help_text="How applications name this campaign, e.g. order-completed.",
    )
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    email_mailing = models.ForeignKey(
        Mailing, on_delete=models.PROTECT, null=True, blank=True, related_name="email_campaigns",
        limit_choices_to={"channel": Channel.EMAIL},
    )  # fmt: skip
    sms_mailing = models.ForeignKey(
        Mailing, on_delete=models.PROTECT, null=True, blank=True, related_name="sms_campaigns",
        limit_choices_to={"channel": Channel.SMS},
    )  # fmt: skip
    delay_seconds = models.PositiveIntegerField(default=0)
    kind = models.CharField(
        max_length=16, choices=CampaignKind.choices, default=CampaignKind.TRANSACTIONAL,
        help_text="Marketing mail carries one-click unsubscribe links and is not sent to those who used one.",
    )  # fmt: skip
    transactional_critical = models.BooleanField(
        default=False,
        help_text="Sent even to suppressed addresses: messages a person asked for, such as password resets.",
    )
    send_windows = models.JSONField(
        default=list, blank=True, validators=[validate_windows],
        help_text='When its sends may go, in each recipient\'s time zone: e.g. [{"days": "mon-sat", "start": '
        '"08:00", "end": "20:00"}]. Empty: any time. Transactional-critical campaigns ignore it.',
    )  # fmt: skip
    cap_sends = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="At most this many sends to one recipient per cap period; empty: no cap.",
    )  # fmt: skip
    cap_period_seconds = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(MAX_SCHEDULE_SECONDS)]
    )
    cap_scope = models.CharField(
        max_length=16, choices=CapScope.choices, default=CapScope.CAMPAIGN, db_default=CapScope.CAMPAIGN,
        help_text="What the cap counts: this campaign's sends, or those of every marketing campaign.",
    )  # fmt: skip
    dedup_seconds = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(MAX_SCHEDULE_SECONDS)],
        help_text="Seconds in which a repeat to a recipient with the same dedup_key is dropped.",
    )  # fmt: skip
    # Vendor dialects name campaigns by these: Marketing Cloud's definition GUID, the trigger-launch link.
    object_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    link_id = models.CharField(max_length=64, default=new_link_id, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["org", "key"], name="campaign_key_per_org")]

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"

    def clean(self) -> None:
        if (self.cap_sends is None) != (self.cap_period_seconds is None):
            raise ValidationError({"cap_sends": "Give both cap_sends and cap_period_seconds, or neither."})

    @property
    def limits_repeats(self) -> bool:
        """Whether its sends are counted against a cap or a de-duplication window (sends.caps)."""
        return bool(self.cap_sends and self.cap_period_seconds) or bool(self.dedup_seconds)

    def mailing_for(self, channel: str) -> Mailing | None:
        return self.email_mailing if channel == Channel.EMAIL else self.sms_mailing

    @functools.cached_property
    def windows(self) -> list[Window]:
        """The send windows that apply: none for a transactional-critical campaign (a password reset)."""
        return [] if self.transactional_critical else windows_parse(self.send_windows)

    @property
    def channels(self) -> list[str]:
        return [c for c in (Channel.EMAIL, Channel.SMS) if self.mailing_for(c) is not None]
