"""Members and invitations in the admin: an org's admins invite, change roles and remove; operators too.

Every change goes through orgs.members, which holds the rules (nobody above their own role, the last admin
stays) and writes the audit log; the forms ask the same questions first, to show the answer by the field.
The invitation's link opens `accept_view`, the one page here that needs no login.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model, login
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.cache import never_cache

from core.errors import HeraldError
from orgs.admin_scoping import OrgScopedAdmin
from orgs.members import (
    invitation_accept,
    invitation_find,
    invitation_problems,
    last_admin_problem,
    member_invite,
    member_remove,
    member_role_change,
    role_problem,
)
from orgs.models import Invitation, Membership


class MembershipForm(forms.ModelForm):
    actor = None  # the request's user, set by MembershipAdmin.get_form

    class Meta:
        model = Membership
        fields = ["user", "org", "role"]

    def clean_role(self) -> str:
        role = self.cleaned_data["role"]
        if self.instance.pk is None:
            return role  # an operator adding a member by hand, as before
        problem = role_problem(actor=self.actor, org=self.instance.org, role=role) or last_admin_problem(
            self.instance, new_role=role
        )
        if problem:
            raise forms.ValidationError(problem.message)
        return role


@admin.register(Membership)
class MembershipAdmin(OrgScopedAdmin, admin.ModelAdmin):
    form = MembershipForm
    list_display = ["user", "user_email", "org", "role", "created_at"]
    list_filter = ["org", "role"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user", "org"]
    actions = ["remove_selected"]

    @admin.display(description="Email", ordering="user__email")
    def user_email(self, membership: Membership) -> str:
        return membership.user.email

    def get_fields(self, request, obj=None):
        return ["user", "org", "role"] if obj is None else ["user", "org", "role", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["user", "org", "created_at"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.actor = request.user
        return form

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # removal is the service's, which keeps the last admin
        return actions

    def save_model(self, request, obj: Membership, form, change: bool) -> None:
        if not change:
            return super().save_model(request, obj, form, change)
        member_role_change(membership=obj, role=form.cleaned_data["role"], actor=request.user)

    def delete_view(self, request, object_id, extra_context=None):
        membership = self.get_object(request, unquote(object_id))
        problem = membership and last_admin_problem(membership)
        if problem:
            messages.error(request, problem.message)
            return redirect("admin:orgs_membership_change", membership.pk)
        return super().delete_view(request, object_id, extra_context)

    def delete_model(self, request, obj: Membership) -> None:
        member_remove(membership=obj, actor=request.user)

    def response_delete(self, request, obj_display, obj_id):
        # Someone who just left the org may no longer see its members: the index is what is left to them.
        if hasattr(request.user, "_herald_memberships"):  # read this request, before the removal
            del request.user._herald_memberships
        if not self.has_view_permission(request):
            return redirect("admin:index")
        return super().response_delete(request, obj_display, obj_id)

    @admin.action(description="Remove selected members from their org", permissions=["delete"])
    def remove_selected(self, request, queryset):
        removed = 0
        for membership in queryset.select_related("org", "user"):
            try:
                member_remove(membership=membership, actor=request.user)
                removed += 1
            except HeraldError as exc:
                messages.error(request, f"{membership.user}: {exc.problems[0].message}")
        if removed:
            messages.success(request, f"Removed {removed} member(s).")


class InvitationForm(forms.ModelForm):
    actor = None

    class Meta:
        model = Invitation
        fields = ["org", "email", "role"]

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("org") and cleaned.get("email") and cleaned.get("role"):
            problems = invitation_problems(
                org=cleaned["org"], email=cleaned["email"], role=cleaned["role"], actor=self.actor
            )
            for problem in problems:
                self.add_error(problem.field, problem.message)
        return cleaned


class AcceptForm(UserCreationForm):
    """A new account for the invitee: a username and a password, checked by the project's validators."""

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ["username"]


@admin.register(Invitation)
class InvitationAdmin(OrgScopedAdmin, admin.ModelAdmin):
    form = InvitationForm
    list_display = ["email", "org", "role", "status", "invited_by", "created_at", "expires_at", "accepted_at"]
    list_filter = ["org", "role"]
    search_fields = ["email"]
    list_select_related = ["org", "invited_by"]
    fields = ["org", "email", "role", "status", "invited_by", "created_at", "expires_at", "accepted_at",
              "accepted_by"]  # fmt: skip
    readonly_fields = ["status", "invited_by", "created_at", "expires_at", "accepted_at", "accepted_by"]

    def get_fields(self, request, obj=None):
        return ["org", "email", "role"] if obj is None else self.fields

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.actor = request.user
        return form

    # An invitation is a record of who was asked in: sent, then accepted or left to expire, never edited.
    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj: Invitation, form, change: bool) -> None:
        data = form.cleaned_data
        try:
            invitation, send = member_invite(
                org=data["org"], email=data["email"], role=data["role"], actor=request.user
            )
        except HeraldError as exc:  # refused by the pipeline (its campaign paused, say): nothing was stored
            messages.error(request, "; ".join([exc.message, *(p.message for p in exc.problems)]))
            return
        obj.pk = invitation.pk
        obj.refresh_from_db()
        messages.info(
            request,
            f"The invitation to {invitation.email} is send {send.pk} in the send log ({send.status}).",
        )

    def log_addition(self, request, obj, message):
        return None  # member_invite wrote the audit log; the admin's own history would say it again

    def response_add(self, request, obj, post_url_continue=None):
        if obj.pk is None:
            return HttpResponseRedirect(reverse("admin:orgs_invitation_changelist"))
        return super().response_add(request, obj, post_url_continue)

    def get_urls(self):
        # Not behind admin_view: the person invited has no login yet; the link's token is what admits them.
        accept = path("accept/<str:token>/", never_cache(self.accept_view), name="orgs_invitation_accept")
        return [accept, *super().get_urls()]

    def accept_view(self, request, token: str):
        invitation = invitation_find(token)
        context = {
            **self.admin_site.each_context(request),
            "title": "Join an org on Herald",
            "invitation": invitation,
        }
        if invitation is None:
            return TemplateResponse(request, "admin/orgs/invitation/accept.html", context, status=404)
        user = request.user if request.user.is_authenticated else None
        has_account = get_user_model().objects.filter(email__iexact=invitation.email).exists()
        if user is not None and (user.email or "").lower() != invitation.email.lower():
            context["wrong_user"] = user
        elif user is None and has_account:
            # Their own username and password, here: an account that is not staff yet could not log in to
            # the admin first. The account must be the invited address's (invitation_accept checks).
            form = AuthenticationForm(request, data=request.POST or None)
            if request.method == "POST" and form.is_valid():
                return self._accepted(request, token, user=form.get_user())
            context["form"], context["has_account"] = form, True
        elif user is not None:  # the invitee, logged in: one click joins
            if request.method == "POST":
                return self._accepted(request, token, user=user)
            context["join"] = True
        else:
            form = AcceptForm(request.POST or None, initial={"username": invitation.email})
            if request.method == "POST" and form.is_valid():
                return self._accepted(
                    request,
                    token,
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password1"],
                )
            context["form"] = form
        return TemplateResponse(request, "admin/orgs/invitation/accept.html", context)

    def _accepted(self, request, token: str, **who):
        try:
            membership = invitation_accept(raw_token=token, **who)
        except HeraldError as exc:
            messages.error(request, exc.message)
            return redirect("admin:orgs_invitation_accept", token)
        login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"You are a {membership.role} of {membership.org}.")
        return redirect("admin:index")
