"""Read-only pieces of the send log's admin: a send's delivery events, inline."""

from django.contrib import admin

from sends.models import DeliveryEvent

EVENT_FIELDS = ["occurred_at", "event_type", "esp_name", "address", "description", "mta_response"]


class ReadOnlyAdminMixin:
    """The send log is a record: viewed, never written by hand."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class DeliveryEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = DeliveryEvent
    fields = EVENT_FIELDS
    readonly_fields = EVENT_FIELDS
    extra = 0
    verbose_name_plural = "Delivery events"
