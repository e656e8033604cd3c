from django.conf import settings
from django.db import models
from django.utils import timezone

from orgs.models import Org


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


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
        """Whether a campaign sends it: whatever protects it from deletion (a PROTECT foreign key) uses it."""
        return any(
            relation.related_model._base_manager.filter(**{relation.field.name: self}).exists()
            for relation in self._meta.related_objects
            if relation.on_delete is models.PROTECT
        )


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
