from django import forms
from django.contrib import admin, messages

from orgs import admin_members  # noqa: F401  (registers members and invitations)
from orgs.admin_scoping import OrgScopedAdmin
from orgs.admin_staff import OrgMembershipInline
from orgs.models import ApiToken, Org
from orgs.services import org_create, token_create, token_revoke

# Herald, not "Django administration", on every page.
admin.site.site_header = "Herald"
admin.site.site_title = "Herald"
admin.site.index_title = "Herald"


class ApiTokenInline(admin.TabularInline):
    model = ApiToken
    fields = ["name", "prefix", "test", "scopes", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Org)
class OrgAdmin(OrgScopedAdmin, admin.ModelAdmin):
    org_lookup = "pk"
    list_display = ["id", "name", "retention_days", "created_at"]
    search_fields = ["name"]
    inlines = [ApiTokenInline, OrgMembershipInline]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        org, secret = org_create(name=obj.name, actor=request.user)
        obj.pk = org.pk
        obj.refresh_from_db()
        messages.warning(request, f"The org's first API token (every scope), shown only this once: {secret}")


class ApiTokenForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=ApiToken.Scope.choices, widget=forms.CheckboxSelectMultiple, initial=ApiToken.DEFAULT_SCOPES
    )

    class Meta:
        model = ApiToken
        fields = ["org", "name", "scopes", "test"]


@admin.register(ApiToken)
class ApiTokenAdmin(OrgScopedAdmin, admin.ModelAdmin):
    form = ApiTokenForm
    list_display = ["name", "org", "prefix", "test", "scopes", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["org", "test"]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is not None:  # an existing token: only its name changes; its secret is gone
            kwargs["form"] = forms.ModelForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        # A key's kind is fixed: turning a test key live would send for real what was written as a test.
        return self.readonly_fields if obj is None else [*self.readonly_fields, "test"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["org", "name", "scopes", "test"]
        return ["name", "prefix", "test", "created_at", "last_used_at", "revoked_at"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        token, secret = token_create(
            org=form.cleaned_data["org"],
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            test=form.cleaned_data["test"],
            actor=request.user,
        )
        obj.pk = token.pk
        obj.refresh_from_db()  # the admin's own "added" message and log entry name the stored token
        kind = "test token's (its sends never reach a provider)" if token.test else "token's"
        messages.warning(request, f"The new {kind} secret, shown only this once: {secret}")

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        for token in queryset:
            token_revoke(token=token, actor=request.user)
        messages.success(request, f"Revoked {queryset.count()} token(s).")
