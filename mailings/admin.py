from django import forms
from django.contrib import admin, messages
from django.core.validators import validate_email
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import escape, format_html

from orgs.admin_scoping import OrgScopedAdmin
from recipients.models import clean_phone, normalize_email

from . import admin_webhooks  # noqa: F401  (registers the webhook endpoint and delivery pages)
from .admin_events import DeliveryEventInline
from .admin_preview import LivePreviewMixin
from .admin_sendlog import SendAttemptInline, SendLogMixin
from .admin_versions import VersionsMixin
from .models import Channel, Mailing, Send
from .rendering import check_context_schema, check_templates, check_translations
from .services import mailing_delete, mailing_test_send, mailing_update


def framed_html(html: str):
    # A sandboxed frame: the marketer's HTML shows as the recipient sees it and runs no script here.
    # escape(), not format_html's own escaping: freshly rendered HTML is marked safe and would pass as is.
    return format_html('<iframe sandbox="" srcdoc="{}" class="herald-framed"></iframe>', escape(html))


class MailingAdminForm(forms.ModelForm):
    """Refuses what the API refuses: templates that do not compile, in the default locale or a translation."""

    def clean_translations(self) -> dict:
        translations = self.cleaned_data["translations"]
        problems = check_translations(translations)
        if problems:
            raise forms.ValidationError([f"{key}: {msg}" if key else msg for key, msg in problems.items()])
        return translations

    def clean_context_schema(self) -> dict | None:
        schema = self.cleaned_data["context_schema"]
        problem = check_context_schema(schema)
        if problem:
            raise forms.ValidationError(problem)
        return schema

    def clean(self) -> dict:
        cleaned = super().clean()
        parts = {part: cleaned[part] for part in ("subject", "text", "html") if part in cleaned}
        for part, message in check_templates(**parts).items():
            self.add_error(part, f"Template error: {message}")
        if self.instance.pk and "channel" in self.changed_data and self.instance.in_use:
            self.add_error("channel", "A campaign sends this mailing; keep its channel.")
        return cleaned


class TestSendForm(forms.Form):
    address = forms.CharField(label="Send a test to (email or phone)", max_length=320)

    def __init__(self, *args, channel: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.channel = channel

    def clean_address(self) -> str:
        address = self.cleaned_data["address"]
        if self.channel == Channel.EMAIL:
            validate_email(address)
            return normalize_email(address)
        return clean_phone(address)


@admin.register(Mailing)
class MailingAdmin(OrgScopedAdmin, VersionsMixin, LivePreviewMixin, admin.ModelAdmin):
    form = MailingAdminForm
    list_display = ["name", "channel", "org", "default_locale", "updated_at"]
    list_filter = ["org", "channel"]
    search_fields = ["name", "subject"]
    readonly_fields = ["preview", "versions_link", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["org", "name", "channel", "from_email", "reply_to"]}),
        ("Content", {"fields": ["subject", "text", "html", "default_locale", "translations"]}),
        ("Preview", {"fields": ["sample_context", "preview"]}),
        ("Data", {"fields": ["context_schema"]}),
        (None, {"fields": ["versions_link", "created_at", "updated_at"]}),
    ]

    def save_model(self, request, obj: Mailing, form, change: bool) -> None:
        if not change:
            return super().save_model(request, obj, form, change)
        changes = {f.name: getattr(obj, f.name) for f in obj._meta.fields if f.name in form.changed_data}
        mailing_update(mailing=obj, changes=changes, actor=request.user)

    def delete_model(self, request, obj: Mailing) -> None:
        mailing_delete(mailing=obj, actor=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for mailing in queryset:
            mailing_delete(mailing=mailing, actor=request.user)

    def get_urls(self):
        view = self.admin_site.admin_view(self.test_send_view)
        return [path("<int:pk>/test-send/", view, name="mailings_mailing_test_send"), *super().get_urls()]

    def test_send_view(self, request, pk: int):
        mailing = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_change_permission(request, mailing):
            return redirect("admin:index")
        form = TestSendForm(request.POST or None, channel=mailing.channel)
        if request.method == "POST" and form.is_valid():
            send = mailing_test_send(mailing=mailing, address=form.cleaned_data["address"])
            messages.success(request, f"Test send {send.correlation_id} queued to {send.to_address}.")
            if self.admin_site._registry[Send].has_view_permission(request, send):
                return redirect(reverse("admin:mailings_send_change", args=[send.pk]))
            # A marketer does not see the send log (recipients' data): back to the mailing instead.
            return redirect(reverse("admin:mailings_mailing_change", args=[mailing.pk]))
        context = {**self.admin_site.each_context(request), "form": form, "mailing": mailing,
                   "opts": self.model._meta, "title": f"Send a test of {mailing.name}"}  # fmt: skip
        return render(request, "admin/mailings/test_send.html", context)


@admin.register(Send)
class SendAdmin(OrgScopedAdmin, SendLogMixin, admin.ModelAdmin):
    list_display = ["id", "to_address", "channel", "status", "campaign", "attempts", "created_at", "sent_at"]
    list_filter = ["status", "channel", "test", "campaign", "created_at"]
    search_fields = ["=to_address"]  # shows the search box; SendLogMixin searches every id exactly
    list_select_related = ["campaign"]
    actions = ["retrigger"]
    inlines = [DeliveryEventInline, SendAttemptInline]
    readonly_fields = [
        "org", "trigger", "campaign", "mailing", "recipient", "retriggered_from", "correlation_id", "status",
        "timeline", "channel", "to_address", "locale", "from_email", "subject", "text", "rendered_html",
        "rendered_version", "context",
        "metadata", "scheduled_at", "expires_at", "queued_at", "claimed_at", "sent_at", "attempts",
        "provider_message_id", "last_error", "possibly_duplicated", "test", "purged_at", "created_at",
        "updated_at",
    ]  # fmt: skip
    fieldsets = [
        (None, {"fields": ["status", "channel", "to_address", "campaign", "correlation_id",
                           "provider_message_id", "last_error"]}),
        ("As the recipient saw it", {"fields": ["subject", "rendered_html", "text", "rendered_version"]}),
        ("Timeline", {"fields": ["timeline"]}),
        ("Details", {"classes": ["collapse"], "fields": [
            "org", "trigger", "mailing", "recipient", "retriggered_from", "locale", "from_email", "context",
            "metadata", "scheduled_at", "expires_at", "queued_at", "claimed_at", "sent_at", "attempts",
            "possibly_duplicated", "created_at", "updated_at"]}),
    ]  # fmt: skip

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # the send log is a record: viewed and re-triggered, never edited

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # nor deleted one by one: erasure and retention are services of their own

    @admin.display(description="Mailing version")
    def rendered_version(self, send: Send):
        if not (send.mailing_id and send.mailing_version):
            return "—"
        history = reverse("admin:mailings_mailing_versions", args=[send.mailing_id])
        return format_html(
            '<a href="{}#version-{}">Version {}</a>', history, send.mailing_version, send.mailing_version
        )

    @admin.display(description="HTML as rendered")
    def rendered_html(self, send: Send):
        return framed_html(send.html) if send.html else "—"
