from django.contrib import admin

from orgs.admin_scoping import OrgScopedAdmin

from .models import Campaign, Trigger


@admin.register(Campaign)
class CampaignAdmin(OrgScopedAdmin, admin.ModelAdmin):
    list_display = ["key", "name", "org", "kind", "status", "email_mailing", "sms_mailing", "delay_seconds"]
    list_filter = ["org", "kind", "status"]
    search_fields = ["key", "name"]
    readonly_fields = ["id", "object_id", "link_id", "created_at", "updated_at"]
    autocomplete_fields = ["email_mailing", "sms_mailing"]


@admin.register(Trigger)
class TriggerAdmin(OrgScopedAdmin, admin.ModelAdmin):
    list_display = ["id", "campaign", "org", "source", "send_count", "created_at"]
    list_filter = ["source", "campaign"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Trigger._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # deleting a trigger would delete its sends from the log
