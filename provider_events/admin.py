"""Every delivery event in the admin, unknown messages' too."""

from django.contrib import admin

from orgs.admin_scoping import OrgScopedAdmin
from sends.admin_events import ReadOnlyAdminMixin
from sends.models import DeliveryEvent


class UnmatchedFilter(admin.SimpleListFilter):
    title = "send"
    parameter_name = "matched"

    def lookups(self, request, model_admin):
        return [("no", "Unknown message (no send)"), ("yes", "Linked to a send")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(send__isnull=self.value() == "no")
        return queryset


@admin.register(DeliveryEvent)
class DeliveryEventAdmin(OrgScopedAdmin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["occurred_at", "event_type", "esp_name", "address", "send", "org", "provider_message_id"]
    list_filter = [UnmatchedFilter, "event_type", "esp_name", "org"]
    search_fields = ["address", "=provider_message_id", "=provider_event_id"]
    list_select_related = ["send", "org"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "org", "send", "esp_name", "event_type", "provider_message_id", "provider_event_id", "occurred_at",
        "address", "description", "mta_response", "reject_reason", "payload", "dedupe_key", "created_at",
    ]  # fmt: skip
    fields = readonly_fields
