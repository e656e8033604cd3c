import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from orgs.models import Org


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class CampaignKind(models.TextChoices):
    """Here rather than in campaigns: dispatch (below campaigns) decides by it."""

    TRANSACTIONAL = "transactional", "Transactional"
    MARKETING = "marketing", "Marketing"


class Mailing(models.Model):
    """The content of one message for one channel, in a default locale and any translations."""

    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="mailings")
    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    from_email = models.CharField(
        max_length=320, blank=True, default="", help_text="Sender; empty uses DEFAULT_FROM_EMAIL."
    )
    reply_to = models.CharField(max_length=320, blank=True, default="")
    subject = models.CharField(max_length=998, blank=True, default="")
    text = models.TextField(blank=True, default="")
    html = models.TextField(blank=True, default="")
    default_locale = models.CharField(max_length=35, default="en")
    translations = models.JSONField(
        default=dict, blank=True, help_text='{"de": {"subject": "…", "text": "…", "html": "…"}}'
    )
    context_schema = models.JSONField(
        null=True, blank=True, help_text="JSON Schema the trigger's context must satisfy (optional)."
    )
    sample_context = models.JSONField(default=dict, blank=True, help_text="Context used for previews.")
    # The number of its latest MailingVersion: each send records the one it rendered (see mailings.versions).
    version = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.channel})"

    def content_for(self, locale: str | None) -> tuple[str, dict]:
        """The locale used and its content, falling back de-AT → de → the default locale."""
        for candidate in locale_chain(locale):
            for key, content in self.translations.items():
                if normalize_locale(key) == candidate and isinstance(content, dict):
                    return key, {
                        "subject": content.get("subject", self.subject),
                        "text": content.get("text", self.text),
                        "html": content.get("html", self.html),
                    }
        return self.default_locale, {"subject": self.subject, "text": self.text, "html": self.html}

    @property
    def in_use(self) -> bool:
        """Whether a campaign sends it (campaigns point here through these reverse relations)."""
        return self.email_campaigns.exists() or self.sms_campaigns.exists()


def normalize_locale(locale: str) -> str:
    return locale.strip().replace("_", "-").lower()


def locale_chain(locale: str | None) -> list[str]:
    if not locale:
        return []
    parts = normalize_locale(locale).split("-")
    return ["-".join(parts[:n]) for n in range(len(parts), 0, -1)]


class MailingVersion(models.Model):
    """A mailing as one save left it: who saved it, when, and every field a person edits."""

    mailing = models.ForeignKey(Mailing, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    content = models.JSONField()
    saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=200, blank=True, default="", help_text="admin, API token, restore.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["mailing", "number"], name="mailing_version_once")]

    def __str__(self) -> str:
        return f"version {self.number} of mailing {self.mailing_id}"


class Send(models.Model):
    """One message to one recipient on one channel: the send log's row, from queued to its outcome."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        SCHEDULED = "scheduled"
        SENDING = "sending"
        SENT = "sent"
        DELIVERED = "delivered"
        BOUNCED = "bounced"
        COMPLAINED = "complained"
        REJECTED = "rejected"
        FAILED = "failed"
        SUPPRESSED = "suppressed"
        EXPIRED = "expired"

    # Dispatch is over for these: the provider has the message, or it will never go. Delivery events may
    # still move a sent or delivered send on (see mailings.events), never back.
    FINAL_STATUSES = (
        Status.SENT, Status.DELIVERED, Status.BOUNCED, Status.COMPLAINED, Status.REJECTED, Status.FAILED,
        Status.SUPPRESSED, Status.EXPIRED,
    )  # fmt: skip

    # Every index of this table is written on each claim and each outcome (a status change is never a HOT
    # update), so it has only the indexes its queries need: the foreign keys' own are replaced by the
    # composite and partial ones in Meta (docs/performance.md).
    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="sends", db_index=False)
    # String references keep the import graph one-way: campaigns builds on mailings, not the reverse.
    trigger = models.ForeignKey(
        "campaigns.Trigger", on_delete=models.CASCADE, null=True, blank=True, related_name="sends"
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.SET_NULL, null=True, blank=True, related_name="sends",
        db_index=False,
    )  # fmt: skip
    # Unindexed: deleting a mailing (refused while a campaign uses it) scans the send log once.
    mailing = models.ForeignKey(
        Mailing, on_delete=models.SET_NULL, null=True, related_name="sends", db_index=False
    )
    mailing_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="The version of the mailing it was rendered from."
    )
    recipient = models.ForeignKey(
        "recipients.Recipient", on_delete=models.SET_NULL, null=True, blank=True, related_name="sends",
        db_index=False,
    )  # fmt: skip
    retriggered_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="retriggers", db_index=False
    )
    correlation_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    to_address = models.CharField(max_length=320)
    locale = models.CharField(max_length=35, blank=True, default="")
    from_email = models.CharField(
        max_length=320, blank=True, default="", help_text="Overrides the mailing's."
    )
    context = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True, help_text="Caller's data kept with the send.")
    subject = models.TextField(blank=True, default="")
    text = models.TextField(blank=True, default="")
    html = models.TextField(blank=True, default="")
    scheduled_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    provider_message_id = models.CharField(max_length=255, blank=True, default="")
    last_error = models.TextField(blank=True, default="")
    test = models.BooleanField(
        default=False, help_text="Made with a test API key: rendered and recorded, never given to a provider."
    )
    possibly_duplicated = models.BooleanField(
        default=False,
        help_text="Re-dispatched after its worker died mid-send: the provider may have had it already.",
    )
    # Set when retention or an erasure emptied its content, context and custom data (privacy.services).
    purged_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # A campaign and a recipient belong to one org: their id alone finds their sends, for the API's
            # lists and for ON DELETE alike. The org after the campaign lets a campaign's (tenant-filtered)
            # count be read from the index alone.
            models.Index(fields=["campaign", "org", "-id"], name="send_campaign_latest_id"),
            models.Index(fields=["recipient", "-id"], name="send_recipient_latest_id"),
            models.Index(fields=["org", "status", "-id"], name="send_status_latest"),
            # Partial: a row enters them only once it has a value, so a claim does not write to them.
            models.Index(
                fields=["provider_message_id"],
                condition=~models.Q(provider_message_id=""),
                name="send_provider_message",
            ),  # fmt: skip
            models.Index(
                fields=["retriggered_from"],
                condition=models.Q(retriggered_from__isnull=False),
                name="send_retriggered_from",
            ),  # fmt: skip
            # Support finds a send by the address it went to (the admin's one exact search box; erasure too).
            models.Index(fields=["to_address", "-id"], name="send_to_address_latest"),
            # The admin dashboard's counts by day, status and campaign, answered from the index alone.
            models.Index(fields=["created_at", "status", "campaign"], name="send_created_covering"),
            # The sweep's three questions, each answered from a small partial index.
            models.Index(fields=["scheduled_at"], condition=models.Q(status="scheduled"), name="send_due"),
            models.Index(fields=["queued_at"], condition=models.Q(status="queued"), name="send_queued"),
            models.Index(fields=["claimed_at"], condition=models.Q(status="sending"), name="send_sending"),
            # Retention's question, oldest first: purged rows leave the index, so it shrinks as it works.
            models.Index(
                fields=["org", "created_at"],
                condition=models.Q(purged_at__isnull=True),
                name="send_retention",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.to_address} ({self.status})"


class SendAttempt(models.Model):
    """One delivery attempt of a send that ended in an error: the send keeps only its last one."""

    send = models.ForeignKey(Send, on_delete=models.CASCADE, related_name="attempt_errors")
    number = models.PositiveIntegerField(help_text="The send's attempt count when it ended.")
    at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=12, help_text="The status the attempt left the send in.")
    error = models.TextField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.outcome}"


class DeliveryEvent(models.Model):
    """What a provider's tracking webhook said about a message: stored once, however often it is told."""

    class Type(models.TextChoices):
        # Anymail's normalised event types.
        QUEUED = "queued"
        SENT = "sent"
        REJECTED = "rejected"
        FAILED = "failed"
        BOUNCED = "bounced"
        DEFERRED = "deferred"
        DELIVERED = "delivered"
        AUTORESPONDED = "autoresponded"
        OPENED = "opened"
        CLICKED = "clicked"
        COMPLAINED = "complained"
        UNSUBSCRIBED = "unsubscribed"
        SUBSCRIBED = "subscribed"
        UNKNOWN = "unknown"

    # Both empty when no send has the event's message id: such events are kept, to be looked into.
    org = models.ForeignKey(
        Org, on_delete=models.CASCADE, null=True, blank=True, related_name="delivery_events"
    )
    send = models.ForeignKey(Send, on_delete=models.CASCADE, null=True, blank=True, related_name="events")
    esp_name = models.CharField(max_length=32)
    event_type = models.CharField(max_length=16, choices=Type.choices)
    provider_message_id = models.CharField(max_length=255, blank=True, default="")
    provider_event_id = models.CharField(max_length=255, blank=True, default="")
    occurred_at = models.DateTimeField(null=True, blank=True)
    address = models.CharField(max_length=320, blank=True, default="")
    description = models.TextField(blank=True, default="")
    mta_response = models.TextField(blank=True, default="")
    reject_reason = models.CharField(max_length=16, blank=True, default="")
    payload = models.JSONField(null=True, blank=True, help_text="The provider's event as it came.")
    # The provider's event id, or what identifies an event where the provider gives none; unique, so the
    # database itself refuses a replayed webhook (see mailings.events.dedupe_key).
    dedupe_key = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [models.UniqueConstraint(fields=["dedupe_key"], name="delivery_event_once")]
        indexes = [
            models.Index(fields=["send", "occurred_at"], name="delivery_event_send"),
            models.Index(
                fields=["-created_at"], condition=models.Q(send__isnull=True), name="delivery_event_unmatched"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} from {self.esp_name} for {self.address or self.provider_message_id}"


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class WebhookEndpoint(models.Model):
    """An org's subscription to what became of its sends: a URL, the statuses it wants, a signing secret."""

    class Format(models.TextChoices):
        NATIVE = "native", "Herald (native)"
        PARCELLAB = "parcellab", "parcelLab feedback"

    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.CharField(max_length=2000)
    events = models.JSONField(
        default=list, blank=True, help_text="Send statuses to notify; empty: every final outcome."
    )
    format = models.CharField(max_length=16, choices=Format.choices, default=Format.NATIVE)
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
