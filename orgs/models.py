import hashlib
import secrets

from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "hrld_"


class Org(models.Model):
    """A tenant. Everything else in Herald belongs to exactly one org."""

    name = models.CharField(max_length=200)
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="API requests per minute; empty: HERALD_RATE_LIMIT_PER_MINUTE."
    )
    created_at = models.DateTimeField(default=timezone.now)

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

    ALL_SCOPES = [s.value for s in Scope]

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
