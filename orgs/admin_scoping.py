"""Every admin page sees only the orgs its user works in, and in each only what the user's role allows there.

`OrgScopedAdmin` goes first in a ModelAdmin's bases. It scopes the queryset behind the changelist, search,
filters, date hierarchy, actions, autocomplete and raw-id popups; turns another org's object id in a URL
into a 404; limits every foreign key on a form to the user's orgs and refuses an object pointed at
another org's; and checks each object against the user's role in its org. Superusers see every org.
"""

import functools

from django import forms
from django.contrib import admin
from django.contrib.auth import get_permission_codename
from django.db.models import Model, Q, QuerySet
from django.http import Http404

from orgs.roles import orgs_where

STANDARD_ACTIONS = ("view", "add", "change", "delete")


def perm_name(opts, action: str) -> str:
    return f"{opts.app_label}.{get_permission_codename(action, opts)}"


def org_id_of(obj: Model, org_lookup: str) -> int | None:
    """Follow `org_lookup` ("org", "endpoint__org", "pk" for an org itself) from an object to its org id."""
    *path, last = org_lookup.split("__")
    for name in path:
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    return obj.pk if last == "pk" else getattr(obj, f"{last}_id", None)


def scope(queryset: QuerySet, org_lookup: str, orgs: set[int] | None) -> QuerySet:
    """Only what belongs to `orgs` (None: every org)."""
    if orgs is None:
        return queryset
    return queryset.filter(**{f"{org_lookup}__in": orgs})


def orgs_of_request(request, model, action: str = "view") -> set[int] | None:
    """The orgs whose `model` objects the request's user may `action`: for dashboards and custom views."""
    return orgs_where(request.user, perm_name(model._meta, action))


class OrgScopedRelatedFilter(admin.RelatedFieldListFilter):
    """A filter by a related object that offers only the user's orgs' objects as its choices."""

    def field_choices(self, field, request, model_admin):
        lookup = org_lookup_of(model_admin.admin_site, field.related_model)
        orgs = orgs_of_request(request, model_admin.model)
        if lookup is None or orgs is None:
            return super().field_choices(field, request, model_admin)
        ordering = self.field_admin_ordering(field, request, model_admin)
        limit = Q(**{f"{lookup}__in": orgs})
        return field.get_choices(include_blank=False, ordering=ordering, limit_choices_to=limit)


def org_lookup_of(admin_site, model) -> str | None:
    """How `model` reaches its org, if it is org-owned (its admin says so); None for users, groups…"""
    model_admin = admin_site._registry.get(model)
    return getattr(model_admin, "org_lookup", None)


class SameOrgForm(forms.ModelForm):
    """Refuses an object pointed at another org's object (a mailing, a campaign…) than its own."""

    def clean(self) -> dict:
        cleaned = super().clean()
        org_id = cleaned["org"].pk if cleaned.get("org") else getattr(self.instance, "org_id", None)
        if org_id is None:
            return cleaned
        for name, value in list(cleaned.items()):
            if name != "org" and isinstance(value, Model) and getattr(value, "org_id", org_id) != org_id:
                self.add_error(name, f"This {value._meta.verbose_name} belongs to another org.")
        return cleaned


class OrgScopedAdmin:
    """Mixin for a ModelAdmin of org-owned objects; `org_lookup` is the path from the model to its org."""

    org_lookup = "org"

    def _orgs(self, request, action: str) -> set[int] | None:
        return orgs_where(request.user, perm_name(self.opts, action))

    def _allows(self, request, action: str, obj) -> bool:
        orgs = self._orgs(request, action)
        if orgs is None:
            return True
        if obj is None:
            return bool(orgs)
        return org_id_of(obj, self.org_lookup) in orgs

    # --- what the user sees: one queryset behind every page, search, filter and autocomplete --------------

    def get_queryset(self, request):
        return scope(super().get_queryset(request), self.org_lookup, self._orgs(request, "view"))

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Django redirects to the index with "doesn't exist"; a 404 says as little and is what the API says.
        raise Http404(f"No {opts.verbose_name} with this id.")

    def get_list_filter(self, request):
        return [self._scoped_filter(entry) for entry in super().get_list_filter(request)]

    def _scoped_filter(self, entry):
        if isinstance(entry, str) and "__" not in entry:
            field = self.opts.get_field(entry)
            if field.is_relation and field.many_to_one:
                return (entry, OrgScopedRelatedFilter)
        return entry

    # --- what the user may do, object by object ----------------------------------------------------------

    def has_view_permission(self, request, obj=None) -> bool:
        allowed = self._allows(request, "view", obj) or self._allows(request, "change", obj)
        return allowed and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args) -> bool:
        return self._allows(request, "add", None) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._allows(request, "change", obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._allows(request, "delete", obj) and super().has_delete_permission(request, obj)

    def get_actions(self, request):
        return {
            name: (self._scoped_action(func), name, description)
            for name, (func, name, description) in super().get_actions(request).items()
        }

    def _scoped_action(self, func):
        """An action reaches only the orgs where the user holds the permissions it declares."""

        # An action that declares no standard permission (none, or its own, like a replay) changes
        # something: it reaches only the orgs where the user may change.
        declared = [p for p in getattr(func, "allowed_permissions", ()) if p in STANDARD_ACTIONS] or [
            "change"
        ]

        @functools.wraps(func)
        def action(modeladmin, request, queryset):
            for permission in declared:
                queryset = scope(queryset, self.org_lookup, self._orgs(request, permission))
            return func(modeladmin, request, queryset)

        return action

    # --- forms: the user's orgs only, and one org per object ---------------------------------------------

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and self.org_lookup == "org" and "org" not in fields:
            # An object stays in its org: moved, it would take along what other objects of the old org
            # point at it for (a campaign's mailing), and hand their content to another org's staff.
            fields.append("org")
        return fields

    def get_form(self, request, obj=None, **kwargs):
        form = kwargs.get("form", self.form)
        kwargs["form"] = type(form.__name__, (SameOrgForm, form), {})
        return super().get_form(request, obj, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        lookup = org_lookup_of(self.admin_site, db_field.related_model)
        if field is None or lookup is None:
            return field
        add, change = self._orgs(request, "add"), self._orgs(request, "change")
        orgs = None if add is None or change is None else add | change
        field.queryset = scope(field.queryset, lookup, orgs)
        if db_field.name == "org" and orgs is not None and len(orgs) == 1:
            field.empty_label = None  # the user's one org, chosen already
        return field
