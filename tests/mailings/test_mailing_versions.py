"""Mailing history: every saved change is a version (who, when, a diff), restorable; sends name theirs."""

import pytest

from dispatch.chunk import sends_dispatch
from mailings.models import Mailing, MailingVersion
from mailings.versions import mailing_version_record
from orgs.models import AuditEntry
from sends.models import Send
from tests.factories import CampaignFactory, MailingFactory
from tests.test_admin import mailing_data, url

pytestmark = pytest.mark.django_db


def save_in_admin(client, mailing: Mailing, **changes):
    response = client.post(url("mailings_mailing_change", mailing.pk), mailing_data(mailing.org, **changes))
    assert response.status_code == 302, response.context["adminform"].form.errors
    mailing.refresh_from_db()


def test_each_save_in_the_admin_is_a_version_saying_who_and_a_save_without_change_is_not(admin_client, org):
    admin_client.post(url("mailings_mailing_add"), mailing_data(org))
    mailing = Mailing.objects.get()
    save_in_admin(admin_client, mailing, subject="Your order {{ context.order_number }}")
    save_in_admin(admin_client, mailing, subject="Your order {{ context.order_number }}")
    assert mailing.version == 2
    latest, first = mailing.versions.all()
    assert (latest.number, first.number) == (2, 1)
    assert latest.saved_by.username == "admin" and latest.source == "admin"
    assert latest.content["subject"] == "Your order {{ context.order_number }}"
    assert first.content["subject"] == "Order {{ context.order_number }}"


def test_changes_through_the_api_are_versions_too(api):
    created = api.post(
        "/api/v1/mailings/", {"name": "Welcome", "channel": "email", "text": "Hi"}, format="json"
    ).json()
    api.patch(f"/api/v1/mailings/{created['id']}/", {"text": "Hello"}, format="json")
    versions = MailingVersion.objects.filter(mailing_id=created["id"])
    assert [(v.number, v.content["text"], v.source.split(" (")[0]) for v in versions] == [
        (2, "Hello", "API token test"), (1, "Hi", "API token test")]  # fmt: skip
    assert all(v.saved_by is None for v in versions)


def test_the_history_page_shows_what_each_version_changed(admin_client, org):
    admin_client.post(url("mailings_mailing_add"), mailing_data(org, text="Hello Ada\nThanks"))
    mailing = Mailing.objects.get()
    save_in_admin(admin_client, mailing, text="Hello Ada\nThank you")
    content = admin_client.get(url("mailings_mailing_versions", mailing.pk)).content.decode()
    version_2 = content[content.index('id="version-2"') : content.index('id="version-1"')]
    assert "<h3>text</h3>" in version_2 and "<h3>subject</h3>" not in version_2
    assert '<span class="herald-removed">-Thanks</span>' in version_2
    assert '<span class="herald-added">+Thank you</span>' in version_2
    assert "Restore version 1" in content and "Restore version 2" not in content


def test_a_version_is_restored_as_a_new_version(admin_client, org):
    admin_client.post(url("mailings_mailing_add"), mailing_data(org, html="<p>Old</p>"))
    mailing = Mailing.objects.get()
    save_in_admin(admin_client, mailing, html="<p>New</p>")
    response = admin_client.post(url("mailings_mailing_version_restore", mailing.pk, 1))
    assert response.status_code == 302
    mailing.refresh_from_db()
    assert mailing.html == "<p>Old</p>"
    assert mailing.version == 3
    assert mailing.versions.first().source == "restored version 1"
    restored = AuditEntry.objects.filter(action=AuditEntry.Action.MAILING_CHANGED).first()
    assert restored.summary.endswith("restored version 1") and restored.user.username == "admin"


def test_a_version_on_another_channel_is_not_restored_while_a_campaign_sends_the_mailing(admin_client, org):
    mailing = MailingFactory(org=org, channel="sms", subject="", html="")
    mailing_version_record(mailing=mailing)
    mailing.channel = "email"
    mailing.save()
    mailing_version_record(mailing=mailing)
    CampaignFactory(org=org, email_mailing=mailing)
    admin_client.post(url("mailings_mailing_version_restore", mailing.pk, 1))
    mailing.refresh_from_db()
    assert mailing.channel == "email" and mailing.version == 2


def test_restoring_takes_a_post(admin_client, org):
    mailing = MailingFactory(org=org)
    mailing_version_record(mailing=mailing)
    assert admin_client.get(url("mailings_mailing_version_restore", mailing.pk, 1)).status_code == 405


def test_a_send_records_the_version_it_rendered_and_its_page_links_to_it(admin_client, org):
    campaign = CampaignFactory(org=org)
    mailing = campaign.email_mailing
    mailing_version_record(mailing=mailing)
    send = Send.objects.create(org=org, campaign=campaign, mailing=mailing, channel="email",
                               to_address="ada@example.com", context={"order_number": 1})  # fmt: skip
    sends_dispatch(send_ids=[send.pk])
    mailing.subject = "Changed afterwards"
    mailing.save()
    mailing_version_record(mailing=mailing)

    send.refresh_from_db()
    assert send.status == "sent"
    assert send.mailing_version == 1
    assert mailing.versions.get(number=1).content["subject"] == "Order {{ context.order_number }} confirmed"
    content = admin_client.get(url("sends_send_change", send.pk)).content.decode()
    assert f'{url("mailings_mailing_versions", mailing.pk)}#version-1">Version 1</a>' in content


def test_the_mailing_page_shows_its_version_and_links_to_its_history(admin_client, org):
    mailing = MailingFactory(org=org)
    mailing_version_record(mailing=mailing)
    content = admin_client.get(url("mailings_mailing_change", mailing.pk)).content.decode()
    assert url("mailings_mailing_versions", mailing.pk) in content
    assert "Version 1" in content


def test_a_mailing_without_versions_says_so(admin_client, org):
    mailing = MailingFactory(org=org)  # written before history was kept, say
    response = admin_client.get(url("mailings_mailing_versions", mailing.pk))
    assert response.status_code == 200
    assert "No versions recorded yet" in response.content.decode()
