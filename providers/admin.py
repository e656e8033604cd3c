"""Providers in the admin: an org admin adds, reorders (position), disables and tests them. Credentials are
typed in and never shown again; the form leaves them as they are unless new ones are given."""

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.http import HttpResponse
from django.shortcuts import render

from core.errors import Invalid
from orgs.admin_scoping import OrgScopedAdmin
from recipients.models import clean_phone

from .kinds import KINDS
from .models import Provider, tracking_url
from .services import (
    EDITABLE,
    provider_create,
    provider_delete,
    provider_problems,
    provider_tracking_secret_new,
    provider_update,
)
from .testing import provider_test

NEEDS = "; ".join(f"{name}: {', '.join(kind.secrets)}" for name, kind in KINDS.items())


class ProviderForm(forms.ModelForm):
    credentials = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text=f'A JSON object, e.g. {{"server_token": "…"}} ({NEEDS}). Never shown again once saved; '
        "leave it empty to keep the stored ones.",
    )  # fmt: skip

    class Meta:
        model = Provider
        fields = [
            "org",
            "channel",
            "kind",
            "name",
            "position",
            "enabled",
            "max_in_flight",
            "per_second",
            "options",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial.pop("credentials", None)  # a re-rendered form must not echo what was typed
        if self.instance.pk:
            for fixed in ("org", "channel", "kind"):
                if fixed in self.fields:  # org is not on the form of a member of one org
                    self.fields[fixed].disabled = True

    def clean_credentials(self):
        raw = self.cleaned_data["credentials"].strip()
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            raise forms.ValidationError('Not JSON: give an object such as {"api_key": "…"}.') from None
        if not isinstance(value, dict):
            raise forms.ValidationError('Give an object such as {"api_key": "…"}.')
        return value

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        problems = provider_problems(
            kind=cleaned.get("kind", ""), channel=cleaned.get("channel", ""),
            options=cleaned.get("options") or {}, credentials=cleaned.get("credentials"),
            credentials_required=not self.instance.pk,
        )  # fmt: skip
        for problem in problems:
            field = problem.field.split(".")[0]
            self.add_error(field if field in self.fields else None, f"{problem.field}: {problem.message}")
        return cleaned


@admin.register(Provider)
class ProviderAdmin(OrgScopedAdmin, admin.ModelAdmin):
    form = ProviderForm
    list_display = ["name", "org", "channel", "kind", "position", "enabled", "credentials_set"]
    list_editable = ["position", "enabled"]
    list_filter = ["org", "channel", "kind", "enabled"]
    search_fields = ["name"]
    readonly_fields = ["credentials_set", "tracking_webhook", "created_at", "updated_at"]
    actions = ["send_test", "tracking_secret_new"]

    @admin.display(description="Credentials set")
    def credentials_set(self, provider: Provider) -> str:
        return ", ".join(provider.credential_names) or "-"

    @admin.display(description="Tracking webhook")
    def tracking_webhook(self, provider: Provider) -> str:
        url = tracking_url(provider)
        if url is None:
            return "-" if provider.pk else "Its URL and secret are shown once it is saved."
        secret = "its secret is set" if provider.tracking_secret_hash else "no secret yet: make one (action)"
        return f"{url} ({secret}; shown only when made)"

    def save_model(self, request, obj: Provider, form, change: bool) -> None:
        data = form.cleaned_data
        try:
            if not change:
                saved = provider_create(
                    org=obj.org, actor=request.user, kind=obj.kind, channel=obj.channel,
                    credentials=data["credentials"], **{name: getattr(obj, name) for name in EDITABLE},
                )  # fmt: skip
                obj.pk = saved.pk
                if saved.tracking_secret:
                    self._tracking_secret_show(request, saved, saved.tracking_secret)
                return
            changes = {name: getattr(obj, name) for name in EDITABLE}
            stored = Provider.objects.get(pk=obj.pk)
            provider_update(
                provider=stored, actor=request.user, credentials=data.get("credentials"), **changes
            )
        except Invalid as exc:  # the form checked the same; a race with another change is left
            messages.error(request, "; ".join(f"{p.field}: {p.message}" for p in exc.problems))

    def delete_model(self, request, obj: Provider) -> None:
        provider_delete(provider=obj, actor=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for provider in queryset:
            provider_delete(provider=provider, actor=request.user)

    @admin.action(description="Make a new tracking webhook secret (the old one stops working)",
                  permissions=["change"])  # fmt: skip
    def tracking_secret_new(self, request, queryset) -> None:
        for provider in queryset:
            try:
                secret = provider_tracking_secret_new(provider=provider, actor=request.user)
            except Invalid as exc:
                messages.error(request, f"{provider.name}: {exc.problems[0].message}")
            else:
                self._tracking_secret_show(request, provider, secret)

    def _tracking_secret_show(self, request, provider: Provider, secret: str) -> None:
        user, _, password = secret.partition(":")
        scheme, _, rest = tracking_url(provider).partition("://")
        messages.warning(
            request,
            f"{provider.name}: give {provider.spec.label} this tracking webhook URL, shown only this once: "
            f"{scheme}://{user}:{password}@{rest}",
        )

    @admin.action(description="Send a test message through it", permissions=["change"])
    def send_test(self, request, queryset) -> HttpResponse | None:
        """Asks where to (an address for email, a number for SMS), then sends one through each selected."""
        channels = sorted(set(queryset.values_list("channel", flat=True)))
        form = SendTestForm(request.POST if request.POST.get("post") == "yes" else None, channels=channels,
                            initial={"email": request.user.email})  # fmt: skip
        if form.is_bound and form.is_valid():
            for provider in queryset:
                to = form.cleaned_data["email" if provider.channel == "email" else "phone"]
                try:
                    message_id = provider_test(provider=provider, to=to, actor=request.user)
                except Exception as exc:  # what the provider answered is what staff need to see
                    messages.error(request, f"{provider.name}: {type(exc).__name__}: {exc}")
                else:
                    messages.success(request, f"{provider.name} took a test to {to}: {message_id}")
            return None
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "form": form,
            "title": "Send a test message", "providers": list(queryset),
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }  # fmt: skip
        return render(request, "admin/providers/provider/send_test.html", context)


class SendTestForm(forms.Form):
    email = forms.EmailField(label="To the address", required=False)
    phone = forms.CharField(label="To the number", required=False, help_text="With its country code, +49…")

    def __init__(self, *args, channels: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        for name, channel in (("email", "email"), ("phone", "sms")):
            if channel in channels:
                self.fields[name].required = True
            else:
                del self.fields[name]

    def clean_phone(self) -> str | None:
        return clean_phone(self.cleaned_data["phone"])
