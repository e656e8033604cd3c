import hashlib
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from core.inputs import validate_timezone

TOKEN_PREFIX = "hrld_"


class Org(models.Model):
    """A tenant. Everything else in Herald belongs to exactly one org."""

    name = models.CharField(max_length=200)
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="API requests per minute; empty: HERALD_RATE_LIMIT_PER_MINUTE."
    )
    retention_days = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Days after which sends lose their content, context and custom data; "
        "empty: HERALD_RETENTION_DAYS; 0: kept for good.",
    )  # fmt: skip
    created_at = models.DateTimeField(default=timezone.now)

    # After the dates: in the class body this name would hide django.utils.timezone from them.
    timezone = models.CharField(
        max_length=64, default="UTC", db_default="UTC", validators=[validate_timezone],
        help_text="IANA zone (Europe/Berlin) of recipients who have none of their own, for send windows.",
    )  # fmt: skip

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


def hash_token(raw: str) -> str:
    # Tokens are 32 random bytes, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    class Scope(models.TextChoices):
        SEND = "send", "send: trigger campaigns"
        READ = "read", "read: sends, triggers, recipients"
        MANAGE = "manage", "manage: mailings, campaigns, recipients"
        PROVIDERS = "providers", "providers: the org's provider accounts and their credentials"

    ALL_SCOPES = [s.value for s in Scope]
    # What a token gets unless asked for more: changing where the org's mail goes is asked for by name.
    DEFAULT_SCOPES = [Scope.SEND.value, Scope.READ.value, Scope.MANAGE.value]

    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(
        max_length=16, editable=False, help_text="The first characters, to recognise it."
    )
    hashed = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    test = models.BooleanField(
        default=False,
        help_text="A test key: its sends are rendered and logged like any other but never reach a provider.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    @staticmethod
    def generate_secret() -> str:
        return TOKEN_PREFIX + secrets.token_urlsafe(32)


class Membership(models.Model):
    """A staff user's place in an org: the role decides what of that org they see and change in the admin."""

    class Role(models.TextChoices):
        MARKETER = "marketer", "marketer: mailings, campaigns, previews, test sends"
        SUPPORT = "support", "support: recipients, sends, re-trigger, suppressions, delivery events"
        ADMIN = "admin", "admin: everything of the org, API tokens and webhooks included"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["org", "user"]
        constraints = [models.UniqueConstraint(fields=["user", "org"], name="membership_user_org")]
        verbose_name = "member"  # what an org admin manages, in the admin's words

    def __str__(self) -> str:
        return f"{self.user} in {self.org} ({self.role})"

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        # A member works in the admin: the login there needs is_staff, whoever created the membership.
        get_user_model().objects.filter(pk=self.user_id, is_staff=False).update(is_staff=True)


class Invitation(models.Model):
    """An invitation to join an org with a role, sent by email as a single-use link that expires.

    Only the token's hash is kept (like an API token's): the link itself is in the email alone.
    """

    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Membership.Role.choices)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.email} to {self.org} ({self.role})"

    @property
    def status(self) -> str:
        if self.accepted_at is not None:
            return "accepted"
        return "expired" if self.expires_at <= timezone.now() else "pending"


class AuditEntry(models.Model):
    """A staff action that matters, by a user (admin) or an API token: who, when, what, in which org.

    Recipients appear by id only, never by address: erasing a recipient leaves nothing of them here.
    """

    class Action(models.TextChoices):
        TOKEN_CREATED = "token.created", "API token created"
        TOKEN_REVOKED = "token.revoked", "API token revoked"
        MAILING_CHANGED = "mailing.changed", "mailing changed"
        MAILING_DELETED = "mailing.deleted", "mailing deleted"
        SEND_RETRIGGERED = "send.retriggered", "send re-triggered"
        SUPPRESSION_LIFTED = "suppression.lifted", "suppression lifted"
        RECIPIENT_ERASED = "recipient.erased", "recipient erased"
        PROVIDER_CREATED = "provider.created", "provider added"
        PROVIDER_CHANGED = "provider.changed", "provider changed"
        PROVIDER_DELETED = "provider.deleted", "provider deleted"
        PROVIDER_TESTED = "provider.tested", "provider tested"
        MEMBER_INVITED = "member.invited", "member invited"
        INVITATION_ACCEPTED = "invitation.accepted", "invitation accepted"
        MEMBER_ROLE_CHANGED = "member.role_changed", "member's role changed"
        MEMBER_REMOVED = "member.removed", "member removed"

    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="audit_entries")
    at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    token = models.ForeignKey(ApiToken, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    actor = models.CharField(max_length=200, help_text="Who, as they were named then: a username or a token.")
    action = models.CharField(max_length=30, choices=Action.choices)
    object_type = models.CharField(max_length=100, help_text="app.model of what it acted on.")
    object_id = models.CharField(max_length=64)
    summary = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit log"
        indexes = [models.Index(fields=["org", "-at"], name="audit_org_latest")]

    def __str__(self) -> str:
        return f"{self.actor}: {self.get_action_display()} {self.object_type} {self.object_id}"


class IdempotentRequest(models.Model):
    """The answer to a native API write made with an Idempotency-Key, kept so that a retry gets it again.

    The unique constraint, not a lookup in Python, is what lets only one of two concurrent requests with
    one key write anything. Triggers keep their key on the Trigger itself (campaigns.Trigger).
    """

    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="Method, path and body, hashed.")
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField(null=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "key"], name="idempotent_request_once_per_key")]

    def __str__(self) -> str:
        return self.key
