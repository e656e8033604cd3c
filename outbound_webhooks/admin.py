"""Webhooks in the admin: endpoints (the secret shown once, on adding), deliveries, their attempts, replay."""

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from orgs.admin_scoping import OrgScopedAdmin
from outbound_webhooks.deliveries import webhook_delivery_replay
from outbound_webhooks.endpoints import format_choices, webhook_endpoint_problems
from outbound_webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from sends.admin_events import ReadOnlyAdminMixin
from sends.models import Send


class WebhookEndpointForm(forms.ModelForm):
    format = forms.ChoiceField(choices=format_choices, initial="native")
    events = forms.MultipleChoiceField(
        choices=[(s, s) for s in Send.FINAL_STATUSES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every final outcome.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["org", "url", "format", "events", "active"]

    def clean(self) -> dict:
        cleaned = super().clean()
        problems = webhook_endpoint_problems(
            url=cleaned.get("url", ""), events=cleaned.get("events", []), format=cleaned.get("format", "")
        )
        for problem in problems:
            if problem.field == "url" and self.instance.pk and "url" not in self.changed_data:
                continue  # accepted when it was set
            self.add_error("url" if problem.field == "url" else "events", problem.message)
        return cleaned


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(OrgScopedAdmin, admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "org", "format", "active", "created_at"]
    list_filter = ["active", "format", "org"]
    search_fields = ["url"]
    readonly_fields = ["delivery_log", "created_at"]

    def save_model(self, request, obj: WebhookEndpoint, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            # The one time anyone sees it: like the API, the admin never shows it again.
            messages.warning(request, f"Signing secret for {obj.url}, shown this once: {obj.secret}")

    @admin.display(description="Deliveries")
    def delivery_log(self, endpoint: WebhookEndpoint):
        if endpoint.pk is None:
            return "—"
        url = (
            reverse("admin:outbound_webhooks_webhookdelivery_changelist")
            + f"?endpoint__id__exact={endpoint.pk}"
        )
        return format_html('<a href="{}">{} deliveries</a>', url, endpoint.deliveries.count())


class WebhookAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = WebhookAttempt
    fields = ["at", "url", "status_code", "error", "duration_ms"]
    readonly_fields = fields
    extra = 0
    verbose_name_plural = "Attempts"


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(OrgScopedAdmin, ReadOnlyAdminMixin, admin.ModelAdmin):
    org_lookup = "endpoint__org"
    list_display = [
        "id", "event", "endpoint", "status", "attempts", "last_status_code", "next_attempt_at", "created_at",
    ]  # fmt: skip
    list_filter = ["status", "event", "endpoint"]
    search_fields = ["=public_id", "endpoint__url"]
    list_select_related = ["endpoint"]
    date_hierarchy = "created_at"
    actions = ["replay"]
    inlines = [WebhookAttemptInline]
    readonly_fields = [
        "endpoint", "send", "public_id", "event", "status", "payload", "attempts", "next_attempt_at",
        "retry_until", "last_status_code", "last_error", "created_at", "delivered_at",
    ]  # fmt: skip
    fields = readonly_fields

    def has_replay_permission(self, request) -> bool:
        # The page itself is a read-only record; replaying is a change to it.
        return request.user.has_perm("outbound_webhooks.change_webhookdelivery")

    @admin.action(description="Replay selected deliveries", permissions=["replay"])
    def replay(self, request, queryset) -> None:
        count = webhook_delivery_replay(deliveries=queryset)
        messages.success(request, f"Replaying {count} deliveries now, retried for 24 hours until a 2xx.")
