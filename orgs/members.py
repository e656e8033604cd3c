"""An org's members, managed by its admins (and operators): invite by email, accept, change a role, remove.

The rules hold whoever calls (the admin, a command, a test): only an org's admins and operators manage its
members; nobody grants a role above their own; an org always keeps one admin. Every change is audited.
Membership changes in an org take a lock on the org's row, so two admins removing each other at once
cannot both succeed and leave the org with none.

The invitation email goes through Herald's own pipeline (a trigger, a send in the send log, suppressions
heeded); that lives in intake, a floor above, which registers the sender with `invitation_sender_register`.
"""

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from core.errors import Invalid, Problem
from orgs.models import AuditEntry, Invitation, Membership, Org, hash_token
from orgs.roles import OPERATOR_RANK, ROLE_RANK
from orgs.services import audit_record

Action = AuditEntry.Action
Role = Membership.Role

# Called as sender(invitation=…, accept_url=…, actor=…) inside the invitation's transaction; returns what
# it sent (a send), which member_invite hands back.
InvitationSender = Callable[..., Any]
_sender: InvitationSender | None = None


def invitation_sender_register(sender: InvitationSender) -> None:
    global _sender
    _sender = sender


def _rank(actor: Any, org: Org) -> int:
    # Read afresh, not from the per-request cache in orgs.roles: a role may have changed this request.
    if actor is None or (actor.is_active and actor.is_superuser):
        return OPERATOR_RANK  # None: Herald itself, a command run by the operator
    if not actor.is_active:
        return 0
    role = Membership.objects.filter(user=actor, org=org).values_list("role", flat=True).first()
    return ROLE_RANK.get(role, 0)


def _require_manager(actor: Any, org: Org) -> int:
    rank = _rank(actor, org)
    if rank < ROLE_RANK[Role.ADMIN]:
        raise PermissionDenied("Only the org's admins manage its members.")
    return rank


def role_problem(*, actor: Any, org: Org, role: str, field: str = "role") -> Problem | None:
    """Why `actor` may not grant `role` in `org`, or None."""
    if role not in Role.values:
        return Problem(field, f"'{role}' is not one of {', '.join(Role.values)}.")
    if ROLE_RANK[role] > _rank(actor, org):
        return Problem(field, "You cannot grant a role above your own.")
    return None


def last_admin_problem(membership: Membership, *, new_role: str | None = None) -> Problem | None:
    """Why this change would leave the org without an admin (removal when new_role is None), or None."""
    if membership.role != Role.ADMIN or new_role == Role.ADMIN:
        return None
    others = Membership.objects.filter(org_id=membership.org_id, role=Role.ADMIN).exclude(pk=membership.pk)
    if others.exists():
        return None
    return Problem(
        "role" if new_role else "membership", "The org's last admin stays: make another admin first."
    )


def _lock(org: Org) -> None:
    Org.objects.select_for_update().filter(pk=org.pk).first()


def invitation_problems(*, org: Org, email: str, role: str, actor: Any) -> list[Problem]:
    """What stops `actor` inviting `email` to `org` as `role`, field by field (the admin's form asks too)."""
    problems = [p for p in [role_problem(actor=actor, org=org, role=role)] if p]
    try:
        validate_email(email)
    except ValidationError:
        return [*problems, Problem("email", f"'{email}' is not a valid email address.")]
    if Membership.objects.filter(org=org, user__email__iexact=email).exists():
        problems.append(Problem("email", "Someone with this address is a member of the org already."))
    return problems


def member_invite(*, org: Org, email: str, role: str, actor: Any = None) -> tuple[Invitation, Any]:
    """Invite `email` to `org` with `role`: an invitation whose link works once, before it expires, sent
    through the pipeline. Returns the invitation and the send. An earlier pending invitation of the same
    address to the org stops working: only the newest link does."""
    _require_manager(actor, org)
    email = (email or "").strip()
    problems = invitation_problems(org=org, email=email, role=role, actor=actor)
    if problems:
        raise Invalid("The invitation was not sent.", problems=problems)
    if _sender is None:
        raise ImproperlyConfigured("No invitation sender is registered (intake.invitations registers it).")
    raw = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        Invitation.objects.filter(
            org=org, email__iexact=email, accepted_at__isnull=True, expires_at__gt=now
        ).update(expires_at=now)
        invitation = Invitation.objects.create(
            org=org, email=email, role=role, token_hash=hash_token(raw), created_at=now,
            invited_by=actor if actor is not None and actor.pk else None,
            expires_at=now + timedelta(days=settings.HERALD_INVITATION_DAYS),
        )  # fmt: skip
        # The sender validates the address as every trigger does: a bad one stores nothing, this included.
        send = _sender(invitation=invitation, accept_url=accept_url(raw), actor=actor)
        audit_record(
            actor=actor, action=Action.MEMBER_INVITED, obj=invitation,
            summary=f"{email} as {role}, until {invitation.expires_at:%Y-%m-%d %H:%M} UTC",
        )  # fmt: skip
    return invitation, send


def accept_url(raw_token: str) -> str:
    return settings.HERALD_PUBLIC_URL.rstrip("/") + reverse("admin:orgs_invitation_accept", args=[raw_token])


def invitation_find(raw_token: str) -> Invitation | None:
    """The pending invitation this link is for, or None: unknown, used already or expired all read alike."""
    return (
        Invitation.objects.select_related("org")
        .filter(
            token_hash=hash_token(raw_token or ""), accepted_at__isnull=True, expires_at__gt=timezone.now()
        )
        .first()
    )


def invitation_accept(*, raw_token: str, user=None, username: str = "", password: str = "") -> Membership:
    """Use an invitation's link: `user` (someone with an account, logged in) joins the org, or a new user is
    made with `username` and `password`. The link works once: a second use, or one after it expired, is
    refused, and so is an account whose address is not the one invited."""
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update()
            .filter(
                token_hash=hash_token(raw_token or ""),
                accepted_at__isnull=True,
                expires_at__gt=timezone.now(),
            )
            .first()
        )
        if invitation is None:
            raise Invalid("This invitation link is not valid: used already, expired or unknown.",
                          problems=[Problem("token", "Used already, expired or unknown.")])  # fmt: skip
        if user is None:
            user = get_user_model().objects.create_user(
                username=username, email=invitation.email, password=password
            )
        elif (user.email or "").lower() != invitation.email.lower():
            wanted = Problem("user", f"Log in as the user whose address is {invitation.email}.")
            raise Invalid("This invitation is for another address.", problems=[wanted])
        membership, created = Membership.objects.get_or_create(
            user=user, org=invitation.org, defaults={"role": invitation.role}
        )
        invitation.accepted_at, invitation.accepted_by = timezone.now(), user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        audit_record(
            actor=user, action=Action.INVITATION_ACCEPTED, obj=membership,
            summary=f"{user.get_username()} joined as {membership.role}"
            + ("" if created else " (a member already: the role stays)"),
        )  # fmt: skip
    return membership


def member_role_change(*, membership: Membership, role: str, actor: Any = None) -> Membership:
    """Give a member another role, if `actor` may grant it and the org keeps an admin."""
    org = membership.org
    with transaction.atomic():
        _lock(org)
        rank = _require_manager(actor, org)
        membership = Membership.objects.select_related("user").get(pk=membership.pk)
        old = membership.role
        if old == role:
            return membership
        above = Problem("role", "You cannot change the role of a member above you.")
        problem = (
            role_problem(actor=actor, org=org, role=role)
            or (above if ROLE_RANK[old] > rank else None)
            or last_admin_problem(membership, new_role=role)
        )
        if problem:
            raise Invalid("The role was not changed.", problems=[problem])
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(
            actor=actor, action=Action.MEMBER_ROLE_CHANGED, obj=membership,
            summary=f"{membership.user.get_username()}: {old} → {role}",
        )  # fmt: skip
    return membership


def member_remove(*, membership: Membership, actor: Any = None) -> None:
    """Take a member out of the org (their user stays, with any other org's membership), unless they are
    its last admin."""
    org = membership.org
    with transaction.atomic():
        _lock(org)
        rank = _require_manager(actor, org)
        membership = Membership.objects.select_related("user").filter(pk=membership.pk).first()
        if membership is None:
            return  # removed already, by someone else a moment ago
        problem = last_admin_problem(membership) or (
            Problem("membership", "You cannot remove a member above you.")
            if ROLE_RANK[membership.role] > rank
            else None
        )
        if problem:
            raise Invalid("The member was not removed.", problems=[problem])
        # Logged first: the entry names the membership, which is gone after.
        audit_record(
            actor=actor, action=Action.MEMBER_REMOVED, obj=membership,
            summary=f"{membership.user.get_username()} ({membership.role})",
        )  # fmt: skip
        membership.delete()
