from django import forms
from django.contrib import admin

from orgs.admin_scoping import OrgScopedAdmin
from recipients.models import Recipient, clean_phone, normalize_email


class RecipientAdminForm(forms.ModelForm):
    """Stores email and phone as the API does, so search and trigger lookups find what staff entered."""

    def clean_email(self) -> str | None:
        # Before the uniqueness check, which would otherwise miss "Ada@Shop.com" against "ada@shop.com".
        return normalize_email(self.cleaned_data["email"])

    def clean_phone(self) -> str | None:
        return clean_phone(self.cleaned_data["phone"])


@admin.register(Recipient)
class RecipientAdmin(OrgScopedAdmin, admin.ModelAdmin):
    form = RecipientAdminForm
    list_display = ["id", "email", "phone", "external_id", "first_name", "last_name", "org", "created_at"]
    list_filter = ["org"]
    search_fields = ["email", "phone", "external_id", "first_name", "last_name"]
    readonly_fields = ["created_at", "updated_at"]
