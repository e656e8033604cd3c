"""What each staff role may do in the admin, and in which orgs a user may do it.

Roles replace Django's per-user permissions for members: a user's memberships grant the permissions
below, each in its own org only. Superusers (the operators) may do everything everywhere.
"""

from django.contrib.auth.backends import BaseBackend

from orgs.models import Membership

Role = Membership.Role

ALL = "view add change delete"

_MARKETER = {
    "mailings.mailing": ALL,
    "campaigns.campaign": ALL,
}
_SUPPORT = {
    "mailings.mailing": "view",  # what a recipient was sent; changing it is the marketers' job
    "campaigns.campaign": "view",
    "sends.trigger": "view",
    "sends.send": "view",  # viewing the send log is what re-triggering needs
    "sends.deliveryevent": "view",
    "recipients.recipient": ALL,
    "suppressions.suppression": "view add delete",  # deleting a suppression lifts it
}
_ADMIN = {
    **_MARKETER,
    **_SUPPORT,
    "mailings.mailing": ALL,
    "campaigns.campaign": ALL,
    "orgs.org": "view",  # its name and rate limit are the operator's
    "orgs.apitoken": "view add change",  # tokens are revoked, not deleted: the record stays
    "orgs.auditentry": "view",
    # Members change through orgs.members only (role changes, removals, invitations), never by hand.
    "orgs.membership": "view change delete",
    "orgs.invitation": "view add",
    "outbound_webhooks.webhookendpoint": ALL,
    "outbound_webhooks.webhookdelivery": "view change",  # changing a delivery is replaying it
    "outbound_webhooks.webhookattempt": "view",
    "providers.provider": ALL,
}


# How far a role reaches, for "no one grants a role above their own": marketers and support are peers.
ROLE_RANK = {Role.MARKETER: 1, Role.SUPPORT: 1, Role.ADMIN: 2}
OPERATOR_RANK = 3


def rank_in(user, org_id: int) -> int:
    """The reach of `user` in an org: an operator's above every role; 0 for someone not of the org."""
    if user.is_active and user.is_superuser:
        return OPERATOR_RANK
    return ROLE_RANK.get(memberships(user).get(org_id), 0)


def _permissions(grants: dict[str, str]) -> frozenset[str]:
    perms = set()
    for label, actions in grants.items():
        app_label, model = label.split(".")
        perms.update(f"{app_label}.{action}_{model}" for action in actions.split())
    return frozenset(perms)


ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.MARKETER: _permissions(_MARKETER),
    Role.SUPPORT: _permissions(_SUPPORT),
    Role.ADMIN: _permissions(_ADMIN),
}


def memberships(user) -> dict[int, str]:
    """org id -> role, loaded once per request (the user object lives as long as the request)."""
    if not getattr(user, "is_authenticated", False) or not hasattr(user, "memberships"):
        return {}
    if not hasattr(user, "_herald_memberships"):
        user._herald_memberships = dict(user.memberships.values_list("org_id", "role"))
    return user._herald_memberships


def orgs_where(user, perm: str) -> set[int] | None:
    """The ids of the orgs where `user` holds `perm` ("app.codename"); None for a superuser: every org."""
    if user.is_active and user.is_superuser:
        return None
    if not (user.is_active and user.is_staff):
        return set()
    return {org_id for org_id, role in memberships(user).items() if perm in ROLE_PERMISSIONS.get(role, ())}


class RoleBackend(BaseBackend):
    """Grants a member their roles' permissions, so the admin shows each role its models and actions.

    The permission is granted if any of the user's orgs grants it; which objects it reaches is decided
    per org by orgs.admin_scoping.
    """

    def get_all_permissions(self, user_obj, obj=None) -> set[str]:
        if not user_obj.is_active or not user_obj.is_staff:
            return set()
        perms: set[str] = set()
        for role in memberships(user_obj).values():
            perms |= ROLE_PERMISSIONS.get(role, frozenset())
        return perms

    def has_perm(self, user_obj, perm: str, obj=None) -> bool:
        return perm in self.get_all_permissions(user_obj, obj)

    def has_module_perms(self, user_obj, app_label: str) -> bool:
        return any(perm.startswith(f"{app_label}.") for perm in self.get_all_permissions(user_obj))
