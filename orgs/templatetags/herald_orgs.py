"""`{% herald_orgs %}`: which org the admin's pages belong to, for the header and the title of every page."""

from django import template

from orgs.models import Membership

register = template.Library()


@register.simple_tag(takes_context=True)
def herald_orgs(context) -> str:
    """The member's org with their role ("Acme Shop · marketer"), their orgs where they have several, and
    "every org" for an operator; empty for no one signed in."""
    user = context.get("user")
    if user is None or not user.is_authenticated:
        return ""
    if user.is_superuser:
        return "every org (operator)"
    if not hasattr(user, "_herald_org_label"):
        mine = list(Membership.objects.filter(user=user).select_related("org").order_by("org__name"))
        if len(mine) == 1:
            user._herald_org_label = f"{mine[0].org.name} · {mine[0].role}"
        else:
            user._herald_org_label = ", ".join(m.org.name for m in mine)
    return user._herald_org_label
