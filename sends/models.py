"""The send log: each trigger a campaign received, each send it made, and what became of every one."""

import uuid

from django.db import models
from django.utils import timezone

from campaigns.models import Campaign
from mailings.models import Channel, Mailing
from orgs.models import ApiToken, Org
from recipients.models import Recipient


class Trigger(models.Model):
    """One accepted trigger request: what was asked, by whom; its sends are the send log rows."""

    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="triggers")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="triggers")
    token = models.ForeignKey(ApiToken, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    source = models.CharField(max_length=32, default="api", help_text="api, admin, or the vendor dialect.")
    # The id the caller knows the request by (parcelLab's correlationId, Marketing Cloud's requestId, the
    # native reference or an Idempotency-Key): what finds the trigger and its sends (sends.selectors).
    reference = models.CharField(
        max_length=255, blank=True, default="", help_text="The caller's own id for this request."
    )
    dedup_key = models.CharField(
        max_length=255, blank=True, default="", db_default="",
        help_text="With the campaign's dedup window: a repeat to a recipient with the same key is dropped.",
    )  # fmt: skip
    cancellation_key = models.CharField(
        max_length=255, blank=True, default="", db_default="",
        help_text="The caller's key that cancels what has not gone yet of every trigger that has it.",
    )  # fmt: skip
    context = models.JSONField(null=True, blank=True)
    attachments = models.JSONField(default=list, blank=True)
    channel = models.CharField(max_length=8, choices=Channel.choices, blank=True, default="")
    locale = models.CharField(max_length=35, blank=True, default="")
    send_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True, default="")
    send_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["org", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="trigger_idempotency_key_per_org",
            )
        ]
        indexes = [
            # A caller's id, looked up within its org (the API) or across the orgs staff see (the admin's
            # search box), so the id leads. Partial: triggers without one never enter it.
            models.Index(
                fields=["reference", "org"], condition=~models.Q(reference=""), name="trigger_reference"
            ),
            models.Index(
                fields=["org", "cancellation_key"],
                condition=~models.Q(cancellation_key=""),
                name="trigger_cancellation_key",
            ),
        ]

    def __str__(self) -> str:
        return f"trigger {self.pk} of {self.campaign_id}"


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
        CANCELLED = "cancelled"
        CAPPED = "capped"
        DEDUPLICATED = "deduplicated"

    # Dispatch is over for these: the provider has the message, or it will never go. Delivery events may
    # still move a sent or delivered send on (see provider_events.tracking), never back.
    FINAL_STATUSES = (
        Status.SENT, Status.DELIVERED, Status.BOUNCED, Status.COMPLAINED, Status.REJECTED, Status.FAILED,
        Status.SUPPRESSED, Status.EXPIRED, Status.CANCELLED, Status.CAPPED, Status.DEDUPLICATED,
    )  # fmt: skip

    # Every index of this table is written on each claim and each outcome (a status change is never a HOT
    # update), so it has only the indexes its queries need: the foreign keys' own are replaced by the
    # composite and partial ones in Meta (docs/performance.md).
    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="sends", db_index=False)
    trigger = models.ForeignKey(
        Trigger, on_delete=models.CASCADE, null=True, blank=True, related_name="sends"
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.SET_NULL, null=True, blank=True, related_name="sends",
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
        Recipient, on_delete=models.SET_NULL, null=True, blank=True, related_name="sends",
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

    # Set where the campaign has send windows: the recipient's zone, and why the send waits, if it does.
    # (After the dates: in the class body this name would hide django.utils.timezone from them.)
    timezone = models.CharField(max_length=64, blank=True, default="", db_default="")
    held = models.CharField(
        max_length=200, blank=True, default="", db_default="", help_text="Why it waits so long."
    )
    # Where the org brings its own providers: the one that took it, and what each tried before said.
    provider = models.CharField(max_length=100, blank=True, default="", db_default="")
    failover = models.TextField(blank=True, default="", db_default="", help_text="Each provider tried first.")

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
    # database itself refuses a replayed webhook (see provider_events.tracking.dedupe_key).
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

    @property
    def is_soft_bounce(self) -> bool:
        """Anymail calls some temporary failures `bounced`; those must not suppress an address for good."""
        payload = self.payload if isinstance(self.payload, dict) else {}
        match self.esp_name:
            case "Postmark":
                return payload.get("Type") == "SoftBounce"
            case "Amazon SES":
                bounce = payload.get("bounce") or {}
                return bounce.get("bounceType") in ("Transient", "Undetermined")
            case "Brevo" | "SendinBlue":
                return payload.get("event") == "soft_bounce"
            case "Mailjet":
                return payload.get("hard_bounce") is False
            case "SendGrid":
                return payload.get("type") == "blocked"
        return False
