from django import forms
from django.contrib import admin

from .admin_howto import HowToCallMixin
from .models import Campaign, Trigger


class CampaignAdminForm(forms.ModelForm):
    def clean(self) -> dict:
        cleaned = super().clean()
        org = cleaned.get("org")
        for field in ("email_mailing", "sms_mailing"):
            mailing = cleaned.get(field)
            if org is not None and mailing is not None and mailing.org_id != org.pk:
                self.add_error(field, "This mailing belongs to another org.")
        return cleaned


@admin.register(Campaign)
class CampaignAdmin(HowToCallMixin, admin.ModelAdmin):
    form = CampaignAdminForm
    list_display = ["key", "name", "org", "status", "email_mailing", "sms_mailing", "delay_seconds"]
    list_filter = ["org", "status"]
    search_fields = ["key", "name"]
    readonly_fields = ["id", "object_id", "link_id", "created_at", "updated_at"]
    autocomplete_fields = ["email_mailing", "sms_mailing"]


@admin.register(Trigger)
class TriggerAdmin(admin.ModelAdmin):
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
