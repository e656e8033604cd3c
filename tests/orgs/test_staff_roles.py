"""Staff roles: a marketer edits mailings but never sees API tokens; support re-triggers but never edits
mailings; an org's admin does everything of that org. Each only in the orgs they are members of."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from campaigns.models import Campaign
from orgs.models import ApiToken, Membership
from orgs.services import token_create
from sends.models import Send
from suppressions.models import Suppression
from tests.factories import CampaignFactory, MailingFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db
Role = Membership.Role


def url(name: str, *args) -> str:
    return reverse(f"admin:{name}", args=args)


@pytest.fixture
def login(client):
    def login_as(role: str, org, *more: tuple) -> object:
        user = MembershipFactory(org=org, role=role).user
        for other_org, other_role in more:
            MembershipFactory(user=user, org=other_org, role=other_role)
        client.force_login(user)
        return client

    return login_as


def visible_models(client) -> set[str]:
    app_list = client.get(url("index")).context["app_list"]
    return {model["object_name"] for app in app_list for model in app["models"]}


def mailing_data(mailing, **changes) -> dict:
    data = {
        "org": mailing.org_id, "name": mailing.name, "channel": mailing.channel, "from_email": "",
        "reply_to": "", "subject": mailing.subject, "text": mailing.text, "html": mailing.html,
        "default_locale": "en", "translations": "{}", "context_schema": "", "sample_context": "{}",
    }  # fmt: skip
    return {**data, **changes}


@pytest.fixture
def send(campaign):
    return Send.objects.create(
        org=campaign.org, campaign=campaign, mailing=campaign.email_mailing, channel="email",
        to_address="ada@example.com", status=Send.Status.FAILED,
    )  # fmt: skip


def test_a_membership_makes_its_user_staff(org):
    user = UserFactory(is_staff=False)
    Membership.objects.create(user=user, org=org, role=Role.SUPPORT)
    user.refresh_from_db()
    assert user.is_staff


@pytest.mark.parametrize(
    ("role", "sees"),
    [
        (Role.MARKETER, {"Mailing", "Campaign"}),
        (
            Role.SUPPORT,
            {"Mailing", "Campaign", "Trigger", "Send", "DeliveryEvent", "Recipient", "Suppression"},
        ),
        (
            Role.ADMIN,
            {"Org", "ApiToken", "AuditEntry", "Mailing", "Campaign", "Trigger", "Send", "DeliveryEvent",
             "Recipient", "Suppression", "WebhookEndpoint", "WebhookDelivery", "Provider", "Membership",
             "Invitation"},
        ),
    ],
)  # fmt: skip
def test_each_role_sees_its_models_in_the_admin(login, org, role, sees):
    assert visible_models(login(role, org)) == sees


# --- marketers ------------------------------------------------------------------------------------


def test_a_marketer_edits_a_mailing(login, org, campaign):
    mailing = campaign.email_mailing
    client = login(Role.MARKETER, org)
    response = client.post(url("mailings_mailing_change", mailing.pk), mailing_data(mailing, subject="New"))
    assert response.status_code == 302
    mailing.refresh_from_db()
    assert mailing.subject == "New"


def test_a_marketer_adds_a_campaign_in_their_one_org_without_choosing_it(login, org):
    mailing = MailingFactory(org=org)
    client = login(Role.MARKETER, org)
    form = client.get(url("campaigns_campaign_add")).context["adminform"].form
    assert list(form.fields["org"].queryset) == [org]
    assert form.fields["org"].empty_label is None  # one option, already chosen
    data = {"org": org.pk, "key": "welcome", "name": "Welcome", "status": "active", "kind": "transactional",
            "email_mailing": mailing.pk, "sms_mailing": "", "delay_seconds": "0",
            "cap_scope": "campaign"}  # fmt: skip
    assert client.post(url("campaigns_campaign_add"), data).status_code == 302
    assert Campaign.objects.get(key="welcome").org == org


def test_a_marketer_never_sees_tokens_sends_or_recipients(login, org, send, recipient):
    client = login(Role.MARKETER, org)
    token, _ = token_create(org=org, name="shop")
    assert client.get(url("orgs_apitoken_changelist")).status_code == 403
    assert client.get(url("orgs_apitoken_change", token.pk)).status_code == 403
    added = client.post(url("orgs_apitoken_add"), {"org": org.pk, "name": "x", "scopes": ["send"]})
    assert added.status_code == 403
    assert client.get(url("sends_send_changelist")).status_code == 403
    assert client.get(url("recipients_recipient_change", recipient.pk)).status_code == 403
    assert ApiToken.objects.count() == 1


def test_a_marketers_test_send_returns_to_the_mailing(login, org):
    mailing = MailingFactory(org=org)
    client = login(Role.MARKETER, org)
    response = client.post(url("sends_send_test", mailing.pk), {"address": "qa@example.com"})
    assert response.status_code == 302
    assert response.url == url("mailings_mailing_change", mailing.pk)  # not the send log, which is support's
    assert Send.objects.get().to_address == "qa@example.com"


# --- support --------------------------------------------------------------------------------------


def test_support_sees_a_mailing_but_cannot_change_it(login, org, campaign):
    mailing = campaign.email_mailing
    client = login(Role.SUPPORT, org)
    page = client.get(url("mailings_mailing_change", mailing.pk))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    response = client.post(
        url("mailings_mailing_change", mailing.pk), mailing_data(mailing, subject="Hacked")
    )
    assert response.status_code == 403
    assert client.get(url("sends_send_test", mailing.pk)).status_code == 302  # to the index
    assert client.post(url("mailings_mailing_delete", mailing.pk), {"post": "yes"}).status_code == 403
    mailing.refresh_from_db()
    assert mailing.subject != "Hacked"
    assert not Send.objects.exists()


def test_support_re_triggers_a_send(login, org, send):
    client = login(Role.SUPPORT, org)
    confirmed = {"action": "retrigger", "_selected_action": [send.pk], "post": "yes"}
    client.post(url("sends_send_changelist"), confirmed)
    assert send.retriggers.get().status == Send.Status.QUEUED


def test_support_lifts_a_suppression(login, org):
    suppression = Suppression.objects.create(org=org, address="ada@example.com", reason="bounced")
    client = login(Role.SUPPORT, org)
    client.post(
        url("suppressions_suppression_changelist"), {"action": "lift", "_selected_action": [suppression.pk]}
    )
    assert not Suppression.objects.exists()


def test_support_never_sees_tokens_or_webhooks(login, org):
    client = login(Role.SUPPORT, org)
    assert client.get(url("orgs_apitoken_changelist")).status_code == 403
    assert client.get(url("outbound_webhooks_webhookendpoint_changelist")).status_code == 403
    assert client.get(url("orgs_auditentry_changelist")).status_code == 403


# --- an org's admin -------------------------------------------------------------------------------


def test_an_org_admin_creates_and_revokes_its_tokens(login, org, other_org):
    client = login(Role.ADMIN, org)
    form = client.get(url("orgs_apitoken_add")).context["adminform"].form
    assert list(form.fields["org"].queryset) == [org]
    response = client.post(url("orgs_apitoken_add"), {"org": org.pk, "name": "shop", "scopes": ["send"]})
    assert response.status_code == 302
    token = ApiToken.objects.get(name="shop")
    client.post(url("orgs_apitoken_changelist"), {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_an_org_admin_cannot_make_a_token_for_another_org(login, org, other_org):
    client = login(Role.ADMIN, org)
    response = client.post(url("orgs_apitoken_add"), {"org": other_org.pk, "name": "x", "scopes": ["send"]})
    assert "org" in response.context["adminform"].form.errors
    assert not ApiToken.objects.filter(org=other_org).exists()


def test_only_operators_add_orgs_and_users_and_edit_staff_in_place(login, org):
    client = login(Role.ADMIN, org)
    assert client.get(url("orgs_org_add")).status_code == 403
    assert client.get(url("auth_user_changelist")).status_code == 403
    assert client.get(url("orgs_membership_add")).status_code == 403
    # The org's staff show on its page, read-only: admins change them on the members' pages (orgs.members).
    page = client.get(url("orgs_org_change", org.pk)).content.decode()
    assert 'name="memberships-0-role"' not in page


# --- roles are per org ----------------------------------------------------------------------------


@pytest.fixture
def two_orgs(org, other_org):
    """Support in org A, marketer in org B."""
    return org, other_org


def test_a_role_holds_only_in_its_own_org(login, two_orgs):
    a, b = two_orgs
    mine_to_edit, only_to_view = MailingFactory(org=b), MailingFactory(org=a)
    client = login(Role.SUPPORT, a, (b, Role.MARKETER))

    def edit(mailing, subject: str) -> int:
        return client.post(url("mailings_mailing_change", mailing.pk), mailing_data(mailing, subject=subject))

    assert edit(mine_to_edit, "B").status_code == 302
    assert edit(only_to_view, "A").status_code == 403
    client.post(
        url("mailings_mailing_changelist"),
        {"action": "delete_selected", "_selected_action": [only_to_view.pk], "post": "yes"},
    )
    only_to_view.refresh_from_db()
    assert only_to_view.subject != "A"


def test_a_campaign_cannot_point_at_a_mailing_of_another_of_the_users_orgs(login, two_orgs):
    a, b = two_orgs
    client = login(Role.MARKETER, a, (b, Role.MARKETER))
    foreign = MailingFactory(org=b)
    data = {"org": a.pk, "key": "welcome", "name": "Welcome", "status": "active",
            "email_mailing": foreign.pk, "sms_mailing": "", "delay_seconds": "0",
            "cap_scope": "campaign"}  # fmt: skip
    response = client.post(url("campaigns_campaign_add"), data)
    assert "belongs to another org" in str(response.context["adminform"].form.errors["email_mailing"])
    assert not Campaign.objects.exists()


def test_a_campaign_cannot_point_at_a_mailing_of_an_org_the_user_is_not_in(login, org, other_org):
    client = login(Role.MARKETER, org)
    campaign = CampaignFactory(org=org)
    foreign = MailingFactory(org=other_org)
    data = {"org": org.pk, "key": campaign.key, "name": "x", "status": "active",
            "email_mailing": foreign.pk, "sms_mailing": "", "delay_seconds": "0",
            "cap_scope": "campaign"}  # fmt: skip
    response = client.post(url("campaigns_campaign_change", campaign.pk), data)
    assert "email_mailing" in response.context["adminform"].form.errors
    campaign.refresh_from_db()
    assert campaign.email_mailing != foreign


def test_an_inactive_member_sees_nothing(client, org):
    user = MembershipFactory(org=org, role=Role.ADMIN).user
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    client.force_login(user)
    assert client.get(url("mailings_mailing_changelist")).status_code == 302  # to the login page


def test_an_object_cannot_be_moved_to_another_org_in_the_admin(login, org, other_org):
    mailing = MailingFactory(org=org)
    client = login(Role.MARKETER, org, (other_org, Role.MARKETER))
    form = client.get(url("mailings_mailing_change", mailing.pk)).context["adminform"].form
    assert "org" not in form.fields  # shown, not editable
    mailing.refresh_from_db()
    assert mailing.org == org
