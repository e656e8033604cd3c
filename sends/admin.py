"""The send log in the admin: sends (viewed, re-triggered, searched by every id), triggers, test sends."""

from django import forms
from django.contrib import admin, messages
from django.core.validators import validate_email
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import escape, format_html, format_html_join

from mailings.models import Channel, Mailing
from orgs.admin_scoping import OrgScopedAdmin
from recipients.models import clean_phone, normalize_email

from .admin_events import DeliveryEventInline
from .admin_sendlog import SendAttemptInline, SendLogMixin
from .models import Send, Trigger
from .services import send_test, triggers_cancel


def framed_html(html: str):
    # A sandboxed frame: the marketer's HTML shows as the recipient sees it and runs no script here.
    # escape(), not format_html's own escaping: freshly rendered HTML is marked safe and would pass as is.
    return format_html('<iframe sandbox="" srcdoc="{}" class="herald-framed"></iframe>', escape(html))


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
        "provider_message_id", "provider", "failover", "last_error", "possibly_duplicated", "test",
        "purged_at", "created_at", "updated_at",
    ]  # fmt: skip
    fieldsets = [
        (None, {"fields": ["status", "channel", "to_address", "campaign", "correlation_id",
                           "provider", "provider_message_id", "last_error"]}),
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

    def get_urls(self):
        view = self.admin_site.admin_view(self.test_send_view)
        return [path("test/<int:mailing_pk>/", view, name="sends_send_test"), *super().get_urls()]

    def test_send_view(self, request, mailing_pk: int):
        """A test of a mailing, for whoever may change it (marketers too, who do not see the send log)."""
        mailing_admin = self.admin_site._registry[Mailing]
        mailing = get_object_or_404(mailing_admin.get_queryset(request), pk=mailing_pk)
        if not mailing_admin.has_change_permission(request, mailing):
            return redirect("admin:index")
        form = TestSendForm(request.POST or None, channel=mailing.channel)
        if request.method == "POST" and form.is_valid():
            send = send_test(mailing=mailing, address=form.cleaned_data["address"])
            messages.success(request, f"Test send {send.correlation_id} queued to {send.to_address}.")
            if self.has_view_permission(request, send):
                return redirect(reverse("admin:sends_send_change", args=[send.pk]))
            # A marketer does not see the send log (recipients' data): back to the mailing instead.
            return redirect(reverse("admin:mailings_mailing_change", args=[mailing.pk]))
        context = {**self.admin_site.each_context(request), "form": form, "mailing": mailing,
                   "opts": Mailing._meta, "title": f"Send a test of {mailing.name}"}  # fmt: skip
        return render(request, "admin/sends/test_send.html", context)


@admin.register(Trigger)
class TriggerAdmin(OrgScopedAdmin, admin.ModelAdmin):
    list_display = ["id", "campaign", "org", "source", "reference", "send_count", "created_at"]
    list_filter = ["source", "campaign"]
    search_fields = ["=reference"]  # shows the search box; get_search_results matches it exactly
    search_help_text = (
        "The caller's own id for the trigger (exact match): a correlationId, requestId, reference or "
        "Idempotency-Key."
    )
    date_hierarchy = "created_at"
    readonly_fields = ["sends_by_status", *[f.name for f in Trigger._meta.fields]]
    actions = ["cancel"]

    class Media:
        css = {"all": ["mailings/admin.css"]}

    @admin.display(description="Sends")
    def sends_by_status(self, trigger: Trigger):
        """How far its dispatch has got, and each status linking to those sends."""
        counts = dict(trigger.sends.order_by().values_list("status").annotate(n=Count("*")))
        done = sum(n for status, n in counts.items() if status in Send.FINAL_STATUSES)
        changelist = reverse("admin:sends_send_changelist")
        links = format_html_join(
            " · ", '<a href="{}?trigger__id__exact={}&amp;status__exact={}">{} {}</a>',
            ((changelist, trigger.pk, status, n, status) for status, n in sorted(counts.items())),
        )  # fmt: skip
        return format_html(
            '<progress class="herald-progress" max="{}" value="{}"></progress><br>{} of {} done: {}',
            trigger.send_count, done, done, trigger.send_count, links or "no sends",
        )  # fmt: skip

    @admin.action(description="Cancel what has not gone yet of selected triggers", permissions=["view"])
    def cancel(self, request, queryset) -> None:
        # Support's fix for a trigger sent by mistake, as the API's POST /triggers/cancel/ is the caller's.
        done = triggers_cancel(triggers=queryset, actor=request.user)
        messages.success(
            request,
            f"{done.cancelled} send(s) cancelled of {done.triggers} trigger(s); {done.gone} had gone already"
            f" and {done.already_cancelled} were cancelled before.",
        )

    def get_search_results(self, request, queryset, search_term):
        # Exactly as given, not Django's case-insensitive "=": the (reference, org) index answers that.
        term = search_term.strip()
        return (queryset.filter(reference=term) if term else queryset), False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # deleting a trigger would delete its sends from the log
