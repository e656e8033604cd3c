"""The audit log: the services that do what matters write who did it, when, to what, in which org; staff
read it in the admin, applications at GET /api/v1/audit/ (scope manage)."""

import pytest
from django.urls import reverse

from orgs.models import AuditEntry
from orgs.services import audit_record, token_create, token_revoke
from sends.models import Send
from suppressions.models import Suppression
from tests.conftest import api_client_for
from tests.factories import MailingFactory

pytestmark = pytest.mark.django_db
Action = AuditEntry.Action


def url(name: str, *args) -> str:
    return reverse(f"admin:{name}", args=args)


@pytest.fixture
def send(campaign):
    return Send.objects.create(
        org=campaign.org, campaign=campaign, mailing=campaign.email_mailing, channel="email",
        to_address="ada@example.com", status=Send.Status.FAILED,
    )  # fmt: skip


def logged(action: str) -> AuditEntry:
    [entry] = AuditEntry.objects.filter(action=action)
    return entry


# --- written by the services, whoever calls them ----------------------------------------------------


def test_a_token_created_and_revoked_in_the_admin_is_logged_with_the_user(org_admin, org):
    org_admin.post(url("orgs_apitoken_add"), {"org": org.pk, "name": "shop backend", "scopes": ["send"]})
    created = logged(Action.TOKEN_CREATED)
    token = org.tokens.get(name="shop backend")
    assert (created.org, created.user, created.token) == (org, org_admin.user, None)
    assert created.actor == org_admin.user.username
    assert (created.object_type, created.object_id) == ("orgs.apitoken", str(token.pk))
    assert "shop backend" in created.summary and token.prefix in created.summary

    org_admin.post(url("orgs_apitoken_changelist"), {"action": "revoke", "_selected_action": [token.pk]})
    revoked = logged(Action.TOKEN_REVOKED)
    assert (revoked.user, revoked.object_id) == (org_admin.user, str(token.pk))


def test_revoking_a_revoked_token_logs_nothing_more(org):
    token, _ = token_create(org=org, name="shop")
    token_revoke(token=token)
    token_revoke(token=token)
    assert logged(Action.TOKEN_REVOKED).actor == "Herald"  # no user, no token: a command or a task


def test_a_mailing_changed_in_the_admin_is_logged_with_the_fields_that_changed(org_admin, org):
    mailing = MailingFactory(org=org, name="Welcome")
    data = {
        "org": org.pk, "name": "Welcome", "channel": "email", "from_email": mailing.from_email,
        "reply_to": "", "subject": "A new subject", "text": mailing.text, "html": "<p>New</p>",
        "default_locale": "en", "translations": "{}", "context_schema": "", "sample_context": "{}",
    }  # fmt: skip
    assert org_admin.post(url("mailings_mailing_change", mailing.pk), data).status_code == 302
    entry = logged(Action.MAILING_CHANGED)
    assert entry.user == org_admin.user
    assert (entry.object_type, entry.object_id) == ("mailings.mailing", str(mailing.pk))
    assert entry.summary == "Welcome: changed html, subject"


def test_a_mailing_changed_through_the_api_is_logged_with_the_token(org, api):
    mailing = MailingFactory(org=org, name="Welcome")
    assert api.patch(f"/api/v1/mailings/{mailing.pk}/", {"subject": "Hi"}, format="json").status_code == 200
    entry = logged(Action.MAILING_CHANGED)
    assert entry.user is None
    assert entry.token.name == "test" and entry.actor.startswith("API token test (hrld_")
    assert entry.summary == "Welcome: changed subject"


def test_saving_a_mailing_unchanged_logs_nothing(org, api):
    mailing = MailingFactory(org=org)
    api.patch(f"/api/v1/mailings/{mailing.pk}/", {"subject": mailing.subject}, format="json")
    assert not AuditEntry.objects.filter(action=Action.MAILING_CHANGED).exists()


def test_a_mailing_deleted_in_the_admin_or_through_the_api_is_logged(org_admin, api, org):
    in_admin, by_api = MailingFactory(org=org, name="Old welcome"), MailingFactory(org=org, name="Old promo")
    org_admin.post(url("mailings_mailing_delete", in_admin.pk), {"post": "yes"})
    assert api.delete(f"/api/v1/mailings/{by_api.pk}/").status_code == 204
    entries = AuditEntry.objects.filter(action=Action.MAILING_DELETED).order_by("id")
    assert [(e.object_id, e.summary, bool(e.user), bool(e.token)) for e in entries] == [
        (str(in_admin.pk), "Old welcome deleted", True, False),
        (str(by_api.pk), "Old promo deleted", False, True),
    ]  # fmt: skip


def test_a_mailing_a_campaign_sends_is_not_deleted_nor_logged(api, campaign):
    assert api.delete(f"/api/v1/mailings/{campaign.email_mailing_id}/").status_code == 400
    assert not AuditEntry.objects.filter(action=Action.MAILING_DELETED).exists()


def test_a_retrigger_is_logged_in_the_admin_and_through_the_api(org_admin, api, send):
    confirmed = {"action": "retrigger", "_selected_action": [send.pk], "post": "yes"}
    org_admin.post(url("sends_send_changelist"), confirmed)
    api.post(f"/api/v1/sends/{send.pk}/retrigger/")
    by_staff, by_api = AuditEntry.objects.filter(action=Action.SEND_RETRIGGERED).order_by("id")
    first, second = send.retriggers.order_by("id")
    assert (by_staff.user, by_staff.object_id) == (org_admin.user, str(send.pk))
    assert by_staff.summary.startswith(f"Re-triggered as send {first.pk}")
    assert by_api.token.name == "test"
    assert by_api.summary.startswith(f"Re-triggered as send {second.pk}")


def test_a_lifted_suppression_is_logged_without_its_address(org_admin, api, org):
    in_admin = Suppression.objects.create(org=org, address="ada@example.com", reason="bounced")
    by_api = Suppression.objects.create(org=org, address="bob@example.com", reason="complained")
    lift = {"action": "lift", "_selected_action": [in_admin.pk]}
    org_admin.post(url("suppressions_suppression_changelist"), lift)
    api.delete(f"/api/v1/suppressions/{by_api.pk}/")
    entries = AuditEntry.objects.filter(action=Action.SUPPRESSION_LIFTED).order_by("id")
    assert [(e.user, e.object_id) for e in entries] == [
        (org_admin.user, str(in_admin.pk)), (None, str(by_api.pk)),
    ]  # fmt: skip
    assert entries[0].summary == f"Suppression {in_admin.pk} (bounced) lifted"
    assert not AuditEntry.objects.filter(summary__contains="@").exists()


def test_the_erase_service_records_an_erasure_by_id(org_admin, recipient):
    # What the privacy work's recipient_erase calls, before the recipient is gone.
    recipient_id = recipient.pk
    entry = audit_record(
        actor=org_admin.user, action=Action.RECIPIENT_ERASED, obj=recipient, summary="Erased"
    )
    recipient.delete()
    entry.refresh_from_db()
    assert (entry.org, entry.user) == (recipient.org, org_admin.user)
    assert (entry.object_type, entry.object_id) == ("recipients.recipient", str(recipient_id))
    assert recipient.email not in str(AuditEntry.objects.values())


# --- read in the admin ----------------------------------------------------------------------------


def test_the_admin_shows_the_orgs_audit_log_read_only(org_admin, org, other_org):
    token_create(org=org, name="ours")
    token_create(org=other_org, name="theirs")
    listed = org_admin.get(url("orgs_auditentry_changelist")).context["cl"].result_list
    assert [entry.summary.split(" ")[0] for entry in listed] == ["ours"]
    entry = listed[0]
    page = org_admin.get(url("orgs_auditentry_change", entry.pk))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert (
        org_admin.post(url("orgs_auditentry_change", entry.pk), {"summary": "rewritten"}).status_code == 403
    )
    assert org_admin.get(url("orgs_auditentry_add")).status_code == 403
    assert org_admin.post(url("orgs_auditentry_delete", entry.pk), {"post": "yes"}).status_code == 403


# --- read through the API -------------------------------------------------------------------------


def test_the_api_lists_the_orgs_audit_log_newest_first_paginated(org, other_org, send):
    client = api_client_for(org, scopes=["manage"])  # its own creation is the first entry
    token, _ = token_create(org=org, name="second")
    token_revoke(token=token)
    token_create(org=other_org, name="elsewhere")
    body = client.get("/api/v1/audit/?limit=2").json()
    assert body["count"] == 3
    assert [(e["action"], e["object_id"]) for e in body["results"]] == [
        ("token.revoked", str(token.pk)), ("token.created", str(token.pk)),
    ]  # fmt: skip
    assert body["results"][0]["actor_type"] == "herald"
    assert body["next"] is not None


def test_the_api_filters_the_audit_log_by_action_and_object(org, send):
    client = api_client_for(org, scopes=["manage", "send"])
    client.post(f"/api/v1/sends/{send.pk}/retrigger/")
    results = client.get("/api/v1/audit/?action=send.retriggered").json()["results"]
    assert [(e["object_type"], e["object_id"], e["actor_type"]) for e in results] == [
        ("sends.send", str(send.pk), "token")
    ]
    found = client.get(f"/api/v1/audit/?object_type=sends.send&object_id={send.pk}").json()["results"]
    assert found == results


def test_an_unknown_action_filter_is_a_400_naming_the_field(org):
    response = api_client_for(org, scopes=["manage"]).get("/api/v1/audit/?action=mailing.burned")
    assert response.status_code == 400
    [problem] = response.json()["error"]["problems"]
    assert problem["field"] == "action" and "token.created" in problem["message"]


def test_a_nul_character_in_a_filter_is_a_400_naming_the_field(org):
    response = api_client_for(org, scopes=["manage"]).get("/api/v1/audit/?object_id=1%00")
    assert response.status_code == 400
    assert response.json()["error"]["problems"][0]["field"] == "object_id"


def test_another_orgs_entry_is_a_404(org, other_org):
    token_create(org=other_org, name="theirs")
    theirs = AuditEntry.objects.get(org=other_org)
    client = api_client_for(org, scopes=["manage"])
    assert client.get(f"/api/v1/audit/{theirs.pk}/").status_code == 404
    assert str(theirs.pk) not in {str(e["id"]) for e in client.get("/api/v1/audit/").json()["results"]}


@pytest.mark.parametrize("scopes", [["read"], ["send"], ["read", "send"]])
def test_the_audit_log_needs_the_manage_scope(org, scopes):
    assert api_client_for(org, scopes=scopes).get("/api/v1/audit/").status_code == 403
