from django import forms
from django.contrib import admin

from orgs.admin_scoping import OrgScopedAdmin

from .admin_preview import LivePreviewMixin
from .admin_versions import VersionsMixin
from .models import Mailing
from .rendering import check_context_schema, check_templates, check_translations
from .services import mailing_delete, mailing_update


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
