"""Each role's front page and forms fit the role and the channel; the admin says Herald."""

import json

import pytest
from django.urls import reverse

from mailings.models import Mailing
from orgs.models import AuditEntry, Membership
from sends.models import Send
from tests.factories import CampaignFactory, MailingFactory, MembershipFactory, SmsMailingFactory

pytestmark = pytest.mark.django_db
Role = Membership.Role


@pytest.fixture(autouse=True)
def _uncached(settings):
    settings.HERALD_DASHBOARD_CACHE_SECONDS = 0


def url(name: str, *args) -> str:
    return reverse(f"admin:{name}", args=args)


def as_member(client, org, role):
    client.force_login(MembershipFactory(org=org, role=role).user)
    return client


def sends_of(campaign, count: int, status=Send.Status.SENT) -> None:
    Send.objects.bulk_create(
        Send(org=campaign.org, campaign=campaign, mailing=campaign.email_mailing, channel="email",
             to_address="ada@example.com", status=status)
        for _ in range(count)
    )  # fmt: skip


# --- the front page ----------------------------------------------------------------------------------


def test_every_page_says_herald_not_django(admin_client):
    page = admin_client.get(url("index")).content.decode()
    assert "Django administration" not in page and "Django site admin" not in page
    assert "<title>Herald | Herald · every org (operator)</title>" in page
    assert '<a href="/admin/">Herald</a> <span class="herald-org">every org (operator)</span>' in page


def test_every_page_a_member_opens_names_their_org_and_role(client, org, other_org):
    mailing = MailingFactory(org=org, name="Welcome")
    as_member(client, org, Role.MARKETER)
    label = f'<span class="herald-org">{org.name} · marketer</span>'
    for page in (url("index"), url("mailings_mailing_changelist"), url("mailings_mailing_change", mailing.pk),
                 url("campaigns_campaign_add"), url("password_change")):  # fmt: skip
        shown = client.get(page).content.decode()
        assert label in shown, page
        assert f" · {org.name} · marketer</title>" in shown, page
        assert other_org.name not in shown, page


def test_a_member_of_two_orgs_sees_both_named(client, org, other_org):
    user = MembershipFactory(org=org, role=Role.SUPPORT).user
    MembershipFactory(org=other_org, user=user, role=Role.ADMIN)
    client.force_login(user)
    names = ", ".join(sorted([org.name, other_org.name]))
    assert f'<span class="herald-org">{names}</span>' in client.get(url("index")).content.decode()


def test_a_marketer_sees_their_orgs_campaign_figures_and_no_queue(client, org, other_org):
    mine, theirs = CampaignFactory(org=org, key="welcome"), CampaignFactory(org=other_org, key="theirs")
    sends_of(mine, 3)
    sends_of(mine, 1, Send.Status.FAILED)
    sends_of(theirs, 5, Send.Status.FAILED)
    as_member(client, org, Role.MARKETER)
    response = client.get(url("index"))
    page, shown = response.content.decode(), response.context["dashboard"]
    assert 'id="herald-dashboard"' in page
    assert shown.per_day[shown.days[-1]] == {"sent": 3, "failed": 1}
    assert [(c.campaign, c.sends, c.failed) for c in shown.campaigns] == [("welcome", 4, 1)]
    assert "herald-queue" not in page  # the queue is the operators' and support's
    assert url("sends_send_changelist") not in page  # no links into a send log they may not open
    # And the two links they work with.
    assert url("mailings_mailing_changelist") in page and url("campaigns_campaign_changelist") in page


def test_support_sees_the_queue_of_their_org(client, org):
    sends_of(CampaignFactory(org=org), 2, Send.Status.QUEUED)
    as_member(client, org, Role.SUPPORT)
    page = client.get(url("index")).content.decode()
    assert "herald-queue" in page
    assert '<td class="herald-queued">2</td>' in page


# --- an SMS mailing's form ---------------------------------------------------------------------------

EMAIL_ONLY = ["from_email", "reply_to", "subject", "html"]


def form_fields(response) -> set[str]:
    return set(response.context["adminform"].form.fields)


def test_an_sms_mailings_form_asks_for_its_message_only(admin_client, org):
    sms = SmsMailingFactory(org=org)
    response = admin_client.get(url("mailings_mailing_change", sms.pk))
    fields = form_fields(response)
    assert "text" in fields and not fields & set(EMAIL_ONLY)
    assert response.context["adminform"].form.fields["text"].label == "Message"
    email = MailingFactory(org=org)
    assert set(EMAIL_ONLY) <= form_fields(admin_client.get(url("mailings_mailing_change", email.pk)))


def test_an_sms_mailing_is_added_without_email_fields(admin_client, org):
    assert not form_fields(admin_client.get(url("mailings_mailing_add") + "?channel=sms")) & set(EMAIL_ONLY)
    data = {
        "org": org.pk, "name": "Code", "channel": "sms", "text": "Code {{ context.code }}",
        "default_locale": "en", "translations": "", "context_schema": "", "sample_context": "",
        # What a browser still posts from the rows the script hid: not stored.
        "subject": "left over", "html": "<p>left over</p>", "from_email": "x@example.com",
    }  # fmt: skip
    assert admin_client.post(url("mailings_mailing_add"), data).status_code == 302
    mailing = Mailing.objects.get()
    assert (mailing.channel, mailing.subject, mailing.html, mailing.from_email) == ("sms", "", "", "")
    assert mailing.translations == {} and mailing.sample_context == {} and mailing.context_schema is None


# --- its preview -------------------------------------------------------------------------------------


def test_an_sms_preview_labels_its_body_message_not_subject(admin_client, org):
    sms = SmsMailingFactory(org=org, sample_context={"code": "123"}, subject="stale subject")
    page = admin_client.get(url("mailings_mailing_change", sms.pk)).content.decode()
    assert '<p class="herald-preview-subject-line" hidden>' in page
    assert '<p class="herald-preview-message-line"><strong>Message:</strong></p>' in page
    assert "Your code is 123" in page
    email = MailingFactory(org=org, sample_context={"order_number": 1})
    page = admin_client.get(url("mailings_mailing_change", email.pk)).content.decode()
    assert '<p class="herald-preview-subject-line"><strong>Subject:</strong>' in page
    assert '<p class="herald-preview-message-line" hidden>' in page


def test_the_live_preview_says_the_channel_and_gives_an_sms_no_subject(admin_client, org):
    data = {"channel": "sms", "subject": "not sent", "text": "Code {{ context.code }}", "html": "<p>no</p>",
            "default_locale": "en", "translations": "", "sample_context": '{"code": "7"}'}  # fmt: skip
    preview = admin_client.post(url("mailings_mailing_preview"), data).json()
    assert preview["channel"] == "sms"
    assert (preview["subject"], preview["html"], preview["text"]) == ("", "", "Code 7")
    assert preview["sms_summary"].startswith("1 segment")


# --- empty fields read empty -------------------------------------------------------------------------


def test_an_empty_schema_and_empty_json_read_empty(admin_client, org):
    mailing = MailingFactory(org=org, context_schema=None, translations={}, sample_context={})
    form = admin_client.get(url("mailings_mailing_change", mailing.pk)).context["adminform"].form
    for name in ("context_schema", "translations", "sample_context"):
        assert form[name].value() in ("", None)
        assert ">null<" not in str(form[name]) and ">{}<" not in str(form[name])
    schema = {"type": "object", "required": ["code"]}
    mailing = MailingFactory(org=org, context_schema=schema)
    form = admin_client.get(url("mailings_mailing_change", mailing.pk)).context["adminform"].form
    assert json.loads(form["context_schema"].value()) == schema


def test_saving_an_untouched_mailing_changes_nothing(admin_client, org):
    mailing = MailingFactory(org=org, context_schema=None, translations={}, sample_context={})
    data = {"org": org.pk, "name": mailing.name, "channel": "email", "from_email": mailing.from_email,
            "reply_to": "", "subject": mailing.subject, "text": mailing.text, "html": mailing.html,
            "default_locale": "en", "translations": "", "context_schema": "",
            "sample_context": ""}  # fmt: skip
    assert admin_client.post(url("mailings_mailing_change", mailing.pk), data).status_code == 302
    mailing.refresh_from_db()
    assert mailing.translations == {} and mailing.context_schema is None and mailing.sample_context == {}
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.MAILING_CHANGED).exists()
