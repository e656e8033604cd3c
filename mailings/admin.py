from django import forms
from django.contrib import admin

from orgs.admin_scoping import OrgScopedAdmin

from .admin_preview import LivePreviewMixin
from .admin_versions import VersionsMixin
from .models import Channel, Mailing
from .rendering import check_context_schema, check_templates, check_translations
from .services import mailing_delete, mailing_update


class EmptyReadsEmptyJSONField(forms.JSONField):
    """A JSON field that reads empty when it holds nothing, not `null` or `{}`; left empty, it is `empty`."""

    def __init__(self, *, empty=None, **kwargs):
        self.empty = empty
        super().__init__(required=False, **kwargs)

    def prepare_value(self, value):
        return "" if value is None or value == {} else super().prepare_value(value)

    def clean(self, value):
        value = super().clean(value)
        return (self.empty() if self.empty else None) if value is None else value

    def has_changed(self, initial, data) -> bool:
        # Nothing before and nothing now is no change, whichever of null, {} and "" spelled it.
        try:
            data = self.to_python(data)
        except forms.ValidationError:
            return True
        return (initial or None) != (data or None)


def _json_field(name: str, empty=None) -> EmptyReadsEmptyJSONField:
    model_field = Mailing._meta.get_field(name)
    return EmptyReadsEmptyJSONField(empty=empty, label=model_field.verbose_name.capitalize(),
                                    help_text=model_field.help_text)  # fmt: skip


class MailingAdminForm(forms.ModelForm):
    """Refuses what the API refuses: templates that do not compile, in the default locale or a translation."""

    translations = _json_field("translations", empty=dict)
    context_schema = _json_field("context_schema")
    sample_context = _json_field("sample_context", empty=dict)

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
    # An SMS is its text alone: no sender address, reply-to, subject or HTML to ask for.
    sms_fieldsets = [
        (None, {"fields": ["org", "name", "channel"]}),
        ("Content", {"fields": ["text", "default_locale", "translations"]}),
        *fieldsets[2:],
    ]

    def channel_of(self, request, obj: Mailing | None) -> str:
        """The mailing's channel; on the add page, the one posted, or asked for with ?channel=sms."""
        if obj is not None:
            return obj.channel
        return request.POST.get("channel") or request.GET.get("channel") or Channel.EMAIL

    def get_fieldsets(self, request, obj=None):
        return self.sms_fieldsets if self.channel_of(request, obj) == Channel.SMS else self.fieldsets

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if self.channel_of(request, obj) == Channel.SMS and "text" in form.base_fields:
            form.base_fields["text"].label = "Message"
        return form

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
