"""Suppressions in the admin: staff see why an address gets nothing and lift it when it works again."""

from django.contrib import admin, messages

from orgs.admin_scoping import OrgScopedAdmin
from orgs.models import Org
from suppressions.models import Suppression, address_hash
from suppressions.services import suppression_add, suppression_lift


@admin.register(Suppression)
class SuppressionAdmin(OrgScopedAdmin, admin.ModelAdmin):
    list_display = ["__str__", "reason", "scope", "org", "created_at", "source_event"]
    list_filter = ["reason", "scope", "org"]
    search_fields = ["address"]
    list_select_related = ["org", "source_event"]
    date_hierarchy = "created_at"
    actions = ["lift"]
    fields = ["org", "address", "reason", "scope", "source_event", "created_at"]
    readonly_fields = ["source_event", "created_at"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is None:
            form.base_fields["address"].required = True  # blank only once erased
        return form

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if search_term.strip():
            # An erased address is kept only as its hash: the exact address finds it too.
            hashes = [
                address_hash(org_id, search_term) for org_id in Org.objects.values_list("pk", flat=True)
            ]
            queryset |= self.get_queryset(request).filter(address_hash__in=hashes)
        return queryset, may_have_duplicates

    def get_readonly_fields(self, request, obj=None):
        # A suppression is added or lifted, never edited into another one.
        if obj is not None:
            return ["org", "address", "reason", "scope", "source_event", "created_at"]
        return self.readonly_fields

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # lifting goes through the service, like the API's DELETE
        return actions

    def save_model(self, request, obj, form, change) -> None:
        if change:
            return
        suppression, _ = suppression_add(org=obj.org, address=obj.address, reason=obj.reason, scope=obj.scope)
        obj.pk, obj.address, obj.reason = suppression.pk, suppression.address, suppression.reason

    def delete_model(self, request, obj) -> None:
        suppression_lift(suppression=obj, actor=request.user)

    @admin.action(description="Lift selected suppressions", permissions=["delete"])
    def lift(self, request, queryset) -> None:
        lifted = 0
        for suppression in queryset:
            suppression_lift(suppression=suppression, actor=request.user)
            lifted += 1
        messages.success(request, f"Lifted {lifted} suppression(s); those addresses get messages again.")
