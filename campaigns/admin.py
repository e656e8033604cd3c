from django.contrib import admin

from campaigns.admin_howto import HowToCallMixin
from campaigns.models import Campaign
from orgs.admin_scoping import OrgScopedAdmin


@admin.register(Campaign)
class CampaignAdmin(OrgScopedAdmin, HowToCallMixin, admin.ModelAdmin):
    list_display = ["key", "name", "org", "kind", "status", "email_mailing", "sms_mailing", "delay_seconds"]
    list_filter = ["org", "kind", "status"]
    search_fields = ["key", "name"]
    readonly_fields = ["id", "object_id", "link_id", "created_at", "updated_at"]
    autocomplete_fields = ["email_mailing", "sms_mailing"]
