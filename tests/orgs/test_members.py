"""Org admins manage their members: invitations through the pipeline, roles, removals, the last admin."""

import re
import threading
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from core.errors import Invalid
from orgs.members import member_invite, member_remove, member_role_change, role_problem
from orgs.models import AuditEntry, Invitation, Membership, hash_token
from sends.models import Send
from suppressions.services import suppression_add
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db
Role = Membership.Role
Action = AuditEntry.Action
User = get_user_model()


def url(name: str, *args) -> str:
    return reverse(f"admin:{name}", args=args)


def invite(client, org, email="colleague@example.com", role=Role.MARKETER):
    return client.post(url("orgs_invitation_add"), {"org": org.pk, "email": email, "role": role})


def link_in(message) -> str:
    return re.search(r"https?://\S+/accept/[^/\s]+/", message.body).group(0)


@pytest.fixture
def invited(org_admin, org, settings, eager_tasks, django_capture_on_commit_callbacks):
    """An invitation made in the admin and dispatched: (the path its email links to, the invitation)."""
    with django_capture_on_commit_callbacks(execute=True):
        assert invite(org_admin, org).status_code == 302
    (message,) = mail.outbox
    org_admin.logout()
    return link_in(message).removeprefix(settings.HERALD_PUBLIC_URL.rstrip("/")), Invitation.objects.get()


# --- inviting ------------------------------------------------------------------------------------------


def test_an_invitation_is_a_send_of_the_orgs_system_campaign(
    org_admin, org, eager_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert invite(org_admin, org).status_code == 302
    invitation = Invitation.objects.get()
    send = Send.objects.get(org=org)
    assert send.campaign.key == "herald-invitation" and send.campaign.kind == "transactional"
    assert not send.campaign.transactional_critical  # so suppressions hold
    assert send.to_address == "colleague@example.com"
    assert send.status == Send.Status.SENT
    (message,) = mail.outbox
    assert message.to == ["colleague@example.com"] and org.name in message.subject
    # The database keeps only the token's hash; the link carries the token itself.
    token = link_in(message).rstrip("/").rsplit("/", 1)[1]
    assert invitation.token_hash == hash_token(token) and token not in invitation.token_hash
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)
    entry = AuditEntry.objects.get(action=Action.MEMBER_INVITED)
    assert entry.org == org and entry.user == org_admin.user and entry.object_id == str(invitation.pk)
    # And the send is in the send log the admin reads.
    assert org_admin.get(url("sends_send_change", send.pk)).status_code == 200


def test_a_suppressed_invitee_is_not_sent_to(org_admin, org, eager_tasks, django_capture_on_commit_callbacks):
    suppression_add(org=org, address="colleague@example.com", reason="bounce")
    with django_capture_on_commit_callbacks(execute=True):
        invite(org_admin, org)
    assert Send.objects.get(org=org).status == Send.Status.SUPPRESSED
    assert mail.outbox == []


def test_the_expiry_comes_from_the_setting(org_admin, org, settings):
    settings.HERALD_INVITATION_DAYS = 2
    invite(org_admin, org)
    invitation = Invitation.objects.get()
    assert invitation.expires_at - invitation.created_at == timedelta(days=2)


def test_a_bad_address_is_refused_by_the_field_and_stores_nothing(org_admin, org):
    response = invite(org_admin, org, email="not-an-address")
    assert response.status_code == 200
    assert "email" in response.context["adminform"].form.errors
    assert not Invitation.objects.exists() and not Send.objects.exists()
    with pytest.raises(Invalid) as refused:
        member_invite(org=org, email="nope", role=Role.MARKETER, actor=org_admin.user)
    assert refused.value.problems[0].field == "email"
    assert (
        not Invitation.objects.exists()
        and not AuditEntry.objects.filter(action=Action.MEMBER_INVITED).exists()
    )


def test_an_existing_member_is_not_invited_again(org_admin, org):
    MembershipFactory(org=org, role=Role.MARKETER, user=UserFactory(email="colleague@example.com"))
    response = invite(org_admin, org)
    assert "already" in str(response.context["adminform"].form.errors["email"])
    assert not Invitation.objects.exists()


def test_only_the_newest_invitation_of_an_address_works(org_admin, org):
    invite(org_admin, org)
    invite(org_admin, org)
    first, newest = Invitation.objects.order_by("id")
    assert first.status == "expired" and newest.status == "pending"


@pytest.mark.parametrize("role", [Role.MARKETER, Role.SUPPORT])
def test_members_who_are_not_admins_invite_no_one(client, org, role):
    member = MembershipFactory(org=org, role=role).user
    client.force_login(member)
    assert invite(client, org).status_code == 403
    with pytest.raises(PermissionDenied):
        member_invite(org=org, email="x@example.com", role=Role.MARKETER, actor=member)
    assert not Invitation.objects.exists()


# --- accepting -----------------------------------------------------------------------------------------


def test_a_new_person_accepts_once_and_sees_only_that_org(client, invited, org, other_org):
    path, invitation = invited
    page = client.get(path)
    assert page.status_code == 200 and org.name in page.content.decode()
    form = {"username": "colleague", "password1": "a long passphrase 42", "password2": "a long passphrase 42"}
    response = client.post(path, form)
    assert response.status_code == 302 and response.url == url("index")
    user = User.objects.get(username="colleague")
    assert user.email == "colleague@example.com" and user.is_staff and not user.is_superuser
    assert Membership.objects.get(user=user).org == org
    assert Membership.objects.get(user=user).role == Role.MARKETER
    invitation.refresh_from_db()
    assert invitation.accepted_by == user and invitation.status == "accepted"
    assert AuditEntry.objects.filter(action=Action.INVITATION_ACCEPTED, org=org, user=user).exists()
    # Logged in, in that org only.
    assert client.get(url("mailings_mailing_changelist")).status_code == 200
    assert client.get(url("orgs_org_change", other_org.pk)).status_code in (403, 404)
    # The link worked once.
    client.logout()
    assert client.get(path).status_code == 404
    again = {**form, "username": "intruder"}
    assert client.post(path, again).status_code == 404
    assert not User.objects.filter(username="intruder").exists()


def test_an_expired_link_works_no_more(client, invited):
    path, _ = invited
    with time_machine.travel(timezone.now() + timedelta(days=7, seconds=1)):
        assert client.get(path).status_code == 404
        form = {"username": "late", "password1": "a long passphrase 42", "password2": "a long passphrase 42"}
        assert client.post(path, form).status_code == 404
    assert not User.objects.filter(username="late").exists()


def test_a_made_up_link_is_404(client, db):
    assert client.get(url("orgs_invitation_accept", "made-up")).status_code == 404


def test_someone_with_an_account_logs_in_on_the_page_and_joins(client, invited, org):
    path, _ = invited
    user = UserFactory(username="ann", email="Colleague@example.com")  # not staff yet: no admin login
    assert "Log in and join" in client.get(path).content.decode()
    assert client.post(path, {"username": "ann", "password": "wrong"}).status_code == 200
    assert not Membership.objects.filter(user=user).exists()
    assert client.post(path, {"username": "ann", "password": "pw"}).status_code == 302
    assert Membership.objects.get(user=user, org=org).role == Role.MARKETER
    assert client.get(url("mailings_mailing_changelist")).status_code == 200  # logged in, and staff now


def test_an_account_of_another_address_cannot_take_it_by_logging_in(client, invited):
    path, invitation = invited
    UserFactory(email="colleague@example.com")
    other = UserFactory(username="bob", email="bob@example.com")
    assert client.post(path, {"username": "bob", "password": "pw"}).status_code == 302  # back, refused
    assert not Membership.objects.filter(user=other).exists()
    invitation.refresh_from_db()
    assert invitation.status == "pending"


def test_someone_logged_in_already_joins_in_one_click(client, invited, org):
    path, _ = invited
    user = UserFactory(email="colleague@example.com")
    client.force_login(user)
    assert "Join " in client.get(path).content.decode()
    assert client.post(path).status_code == 302
    assert Membership.objects.get(user=user, org=org).role == Role.MARKETER


def test_another_logged_in_user_cannot_take_the_invitation(client, invited):
    path, _ = invited
    someone = UserFactory(email="someone@example.com")
    client.force_login(someone)
    assert "this invitation is for colleague@example.com" in client.get(path).content.decode()
    client.post(
        path, {"username": "x", "password1": "a long passphrase 42", "password2": "a long passphrase 42"}
    )
    assert not Membership.objects.filter(user=someone).exists()
    assert not User.objects.filter(username="x").exists()


# --- roles and removals --------------------------------------------------------------------------------


def change_role(client, membership, role):
    data = {"role": role}
    return client.post(url("orgs_membership_change", membership.pk), data)


def test_an_admin_changes_a_members_role(org_admin, org):
    member = MembershipFactory(org=org, role=Role.MARKETER)
    assert change_role(org_admin, member, Role.SUPPORT).status_code == 302
    member.refresh_from_db()
    assert member.role == Role.SUPPORT
    entry = AuditEntry.objects.get(action=Action.MEMBER_ROLE_CHANGED)
    assert entry.user == org_admin.user and "marketer → support" in entry.summary


def test_the_last_admin_stays_an_admin(org_admin, org):
    mine = Membership.objects.get(user=org_admin.user)
    response = change_role(org_admin, mine, Role.MARKETER)
    assert response.status_code == 200
    assert "last admin" in str(response.context["adminform"].form.errors["role"])
    mine.refresh_from_db()
    assert mine.role == Role.ADMIN
    with pytest.raises(Invalid):
        member_role_change(membership=mine, role=Role.SUPPORT, actor=org_admin.user)
    assert not AuditEntry.objects.filter(action=Action.MEMBER_ROLE_CHANGED).exists()


def test_with_a_second_admin_the_first_may_step_down(org_admin, org):
    MembershipFactory(org=org, role=Role.ADMIN)
    mine = Membership.objects.get(user=org_admin.user)
    assert change_role(org_admin, mine, Role.SUPPORT).status_code == 302
    mine.refresh_from_db()
    assert mine.role == Role.SUPPORT


def test_an_admin_removes_a_member(org_admin, org):
    member = MembershipFactory(org=org, role=Role.SUPPORT)
    response = org_admin.post(url("orgs_membership_delete", member.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=member.pk).exists()
    assert User.objects.filter(pk=member.user_id).exists()  # the user stays, for their other orgs
    entry = AuditEntry.objects.get(action=Action.MEMBER_REMOVED)
    assert entry.object_id == str(member.pk) and entry.user == org_admin.user


def test_an_admin_who_leaves_the_org_lands_on_the_index(org_admin, org):
    MembershipFactory(org=org, role=Role.ADMIN)
    mine = Membership.objects.get(user=org_admin.user)
    response = org_admin.post(url("orgs_membership_delete", mine.pk), {"post": "yes"})
    assert response.status_code == 302 and response.url == url("index")
    assert not Membership.objects.filter(pk=mine.pk).exists()
    assert org_admin.get(url("orgs_membership_changelist")).status_code == 403


def test_the_last_admin_cannot_be_removed(org_admin, org):
    mine = Membership.objects.get(user=org_admin.user)
    response = org_admin.post(url("orgs_membership_delete", mine.pk), {"post": "yes"}, follow=True)
    assert "last admin" in response.content.decode()
    assert Membership.objects.filter(pk=mine.pk).exists()
    response = org_admin.post(
        url("orgs_membership_changelist"), {"action": "remove_selected", "_selected_action": [mine.pk]}
    )
    assert Membership.objects.filter(pk=mine.pk).exists()
    with pytest.raises(Invalid):
        member_remove(membership=mine, actor=None)  # not even an operator leaves an org without one
    assert not AuditEntry.objects.filter(action=Action.MEMBER_REMOVED).exists()


def test_the_remove_action_removes_the_selected(org_admin, org):
    members = [MembershipFactory(org=org, role=Role.MARKETER) for _ in range(2)]
    org_admin.post(
        url("orgs_membership_changelist"),
        {"action": "remove_selected", "_selected_action": [m.pk for m in members]},
    )
    assert not Membership.objects.filter(pk__in=[m.pk for m in members]).exists()
    assert AuditEntry.objects.filter(action=Action.MEMBER_REMOVED).count() == 2


def test_no_one_grants_a_role_above_their_own(org):
    support = MembershipFactory(org=org, role=Role.SUPPORT).user
    assert (
        role_problem(actor=support, org=org, role=Role.ADMIN).message
        == "You cannot grant a role above your own."
    )
    assert role_problem(actor=support, org=org, role=Role.MARKETER) is None  # a peer's role
    admin = MembershipFactory(org=org, role=Role.ADMIN).user
    assert role_problem(actor=admin, org=org, role=Role.ADMIN) is None
    assert role_problem(actor=admin, org=org, role="owner").field == "role"


@pytest.mark.parametrize("role", [Role.MARKETER, Role.SUPPORT])
def test_members_who_are_not_admins_change_no_roles(client, org, role):
    actor = MembershipFactory(org=org, role=role).user
    other = MembershipFactory(org=org, role=Role.MARKETER)
    client.force_login(actor)
    assert change_role(client, other, Role.SUPPORT).status_code == 403
    assert client.post(url("orgs_membership_delete", other.pk), {"post": "yes"}).status_code == 403
    with pytest.raises(PermissionDenied):
        member_role_change(membership=other, role=Role.SUPPORT, actor=actor)
    with pytest.raises(PermissionDenied):
        member_remove(membership=other, actor=actor)
    other.refresh_from_db()
    assert other.role == Role.MARKETER


def test_operators_keep_their_powers(admin_client, org):
    member = MembershipFactory(org=org, role=Role.ADMIN)
    other = MembershipFactory(org=org, role=Role.MARKETER)
    assert change_role(admin_client, other, Role.ADMIN).status_code == 302
    user = UserFactory()
    add = {"user": user.pk, "org": org.pk, "role": Role.SUPPORT}
    assert admin_client.post(url("orgs_membership_add"), add).status_code == 302
    assert Membership.objects.get(user=user).role == Role.SUPPORT
    assert admin_client.post(url("orgs_membership_delete", member.pk), {"post": "yes"}).status_code == 302


# --- isolation: org A's admin can do none of it in org B --------------------------------------------


def test_an_admin_of_one_org_manages_nothing_of_another(org_admin, org, other_org):
    theirs = MembershipFactory(org=other_org, role=Role.MARKETER)
    their_admin = MembershipFactory(org=other_org, role=Role.ADMIN)
    for page in ("change", "delete", "history"):
        assert org_admin.get(url(f"orgs_membership_{page}", theirs.pk)).status_code == 404
    assert change_role(org_admin, theirs, Role.ADMIN).status_code == 404
    assert org_admin.post(url("orgs_membership_delete", their_admin.pk), {"post": "yes"}).status_code == 404
    org_admin.post(
        url("orgs_membership_changelist"), {"action": "remove_selected", "_selected_action": [theirs.pk]}
    )
    listed = org_admin.get(url("orgs_membership_changelist")).context["cl"].result_list
    assert theirs not in listed and their_admin not in listed
    response = invite(org_admin, other_org)
    assert response.status_code == 200 and "org" in response.context["adminform"].form.errors
    for call in (
        lambda: member_invite(org=other_org, email="x@example.com", role=Role.ADMIN, actor=org_admin.user),
        lambda: member_role_change(membership=theirs, role=Role.ADMIN, actor=org_admin.user),
        lambda: member_remove(membership=their_admin, actor=org_admin.user),
    ):
        with pytest.raises(PermissionDenied):
            call()
    assert Membership.objects.filter(org=other_org).count() == 2
    theirs.refresh_from_db()
    assert theirs.role == Role.MARKETER
    assert not Invitation.objects.exists()
    assert not AuditEntry.objects.filter(org=other_org).exists()


def test_an_invitation_of_another_org_is_404(org_admin, other_org):
    theirs = Invitation.objects.create(
        org=other_org, email="x@example.com", role=Role.ADMIN, token_hash=hash_token("t"),
        expires_at=timezone.now() + timedelta(days=1),
    )  # fmt: skip
    assert org_admin.get(url("orgs_invitation_change", theirs.pk)).status_code == 404
    assert theirs not in org_admin.get(url("orgs_invitation_changelist")).context["cl"].result_list


def test_the_api_has_no_way_to_members(api):
    # Members are managed in the admin only: no token, of any scope, reaches them.
    assert api.get("/api/v1/members/").status_code == 404
    assert api.get("/api/v1/invitations/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_two_admins_removing_each_other_at_once_leave_one(org):
    """The org's row lock orders the two: the second finds its actor removed, or its target the last admin."""
    first, second = (MembershipFactory(org=org, role=Role.ADMIN) for _ in range(2))
    start, outcomes = threading.Barrier(2), []

    def remove(membership, actor) -> None:
        try:
            start.wait()
            member_remove(membership=membership, actor=actor)
            outcomes.append("removed")
        except (Invalid, PermissionDenied):
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=remove, args=(second, first.user)),
        threading.Thread(target=remove, args=(first, second.user)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "removed"]
    assert Membership.objects.filter(org=org, role=Role.ADMIN).count() == 1
