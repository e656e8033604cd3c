"""Staff in the admin: who works in which org with which role (operators set it), and the audit log."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from orgs.admin_scoping import OrgScopedAdmin
from orgs.models import AuditEntry, Membership


class OperatorsEdit:
    """Memberships edited in place are the operators' (as ever); org admins use the members' own pages,
    whose changes orgs.members checks and audits."""

    def has_add_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser


class OrgMembershipInline(OperatorsEdit, admin.TabularInline):
    model = Membership
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]
    extra = 0
    verbose_name_plural = "Staff (a member is made staff; superusers see every org without one)"


class UserMembershipInline(OperatorsEdit, admin.TabularInline):
    model = Membership
    fields = ["org", "role", "created_at"]
    readonly_fields = ["created_at"]
    extra = 0
    verbose_name_plural = "Orgs this user works in"


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    inlines = [*UserAdmin.inlines, UserMembershipInline]


@admin.register(AuditEntry)
class AuditEntryAdmin(OrgScopedAdmin, admin.ModelAdmin):
    list_display = ["at", "actor", "action", "object_type", "object_id", "summary", "org"]
    list_filter = ["action", "org"]
    search_fields = ["actor", "summary", "=object_id"]
    list_select_related = ["org"]
    date_hierarchy = "at"
    fields = ["at", "org", "actor", "user", "token", "action", "object_type", "object_id", "summary"]
    readonly_fields = fields

    # A record of what was done: written by the services that did it, never by hand.
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
