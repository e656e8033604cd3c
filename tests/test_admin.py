"""The staff admin: every page loads, and what staff do there goes through the same services as the API."""

import json
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign
from mailings.models import Mailing
from orgs.models import ApiToken, Org, hash_token
from orgs.services import token_authenticate, token_create
from recipients.models import Recipient
from sends.models import Send, Trigger
from tests.factories import CampaignFactory, MailingFactory, OrgFactory, RecipientFactory, SmsMailingFactory

pytestmark = pytest.mark.django_db
Status = Send.Status


def url(name: str, *args) -> str:
    return reverse(f"admin:{name}", args=args)


def listed(response) -> list:
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def form_errors(response) -> dict:
    assert response.status_code == 200, "the form was accepted"
    return response.context["adminform"].form.errors


@pytest.fixture
def mailing(org):
    return MailingFactory(org=org, sample_context={"order_number": 42})


# --- every page loads -------------------------------------------------------------------------------


@pytest.fixture
def one_of_each(org, campaign, recipient, make_send) -> dict:
    token, _ = token_create(org=org, name="shop backend")
    trigger = Trigger.objects.create(org=org, campaign=campaign, context={"order_number": 42})
    return {
        "orgs_org": org,
        "orgs_apitoken": token,
        "recipients_recipient": recipient,
        "mailings_mailing": campaign.email_mailing,
        "campaigns_campaign": campaign,
        "sends_send": make_send(trigger=trigger, recipient=recipient),
        "sends_trigger": trigger,
    }


ALL_MODELS = [
    "orgs_org", "orgs_apitoken", "recipients_recipient", "mailings_mailing", "campaigns_campaign",
    "sends_send", "sends_trigger",
]  # fmt: skip
RECORDS = ["sends_send", "sends_trigger"]  # written by the pipeline, only viewed here


@pytest.mark.parametrize("model", ALL_MODELS)
def test_every_changelist_lists_its_objects(admin_client, one_of_each, model):
    assert one_of_each[model] in listed(admin_client.get(url(f"{model}_changelist")))


@pytest.mark.parametrize("model", ALL_MODELS)
def test_every_change_page_loads(admin_client, one_of_each, model):
    response = admin_client.get(url(f"{model}_change", one_of_each[model].pk))
    assert response.status_code == 200
    assert response.context["original"] == one_of_each[model]


@pytest.mark.parametrize("model", [model for model in ALL_MODELS if model not in RECORDS])
def test_every_add_page_loads(admin_client, model):
    assert admin_client.get(url(f"{model}_add")).status_code == 200


@pytest.mark.parametrize("model", RECORDS)
def test_sends_and_triggers_are_records_nobody_adds_by_hand(admin_client, model):
    assert admin_client.get(url(f"{model}_add")).status_code == 403


def test_the_org_page_lists_its_tokens_without_their_secrets(admin_client, org):
    token, secret = token_create(org=org, name="shop backend")
    content = admin_client.get(url("orgs_org_change", org.pk)).content.decode()
    assert "shop backend" in content and token.prefix in content
    assert secret not in content


def test_an_org_is_added_in_the_admin(admin_client):
    data = {"name": "Acme", "timezone": "UTC", "created_at_0": "2025-01-01", "created_at_1": "10:00:00",
            "tokens-TOTAL_FORMS": "0", "tokens-INITIAL_FORMS": "0",
            "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"}  # fmt: skip
    response = admin_client.post(url("orgs_org_add"), data, follow=True)
    org = Org.objects.get()
    assert org.name == "Acme"
    [secret] = re.findall(r"hrld_[\w-]+", response.content.decode())
    assert token_authenticate(secret=secret).org == org, "the org's first token is shown once"
    assert sorted(org.tokens.get().scopes) == sorted(ApiToken.DEFAULT_SCOPES)


# --- tokens ---------------------------------------------------------------------------------------


def test_a_new_tokens_secret_is_shown_once_and_only_its_hash_is_stored(admin_client, org):
    response = admin_client.post(
        url("orgs_apitoken_add"),
        {"org": org.pk, "name": "shop backend", "scopes": ["send", "read"]},
        follow=True,
    )
    assert response.status_code == 200
    shown = " ".join(str(message) for message in response.context["messages"])
    secret = re.search(r"hrld_[\w-]{40,}", shown).group(0)
    assert response.content.decode().count(secret) == 1

    token = ApiToken.objects.get(name="shop backend")
    assert token.org == org
    assert sorted(token.scopes) == ["read", "send"]
    assert token.hashed == hash_token(secret)
    assert token.prefix == secret[:12]
    assert secret not in json.dumps(list(ApiToken.objects.values()), default=str)
    assert token_authenticate(secret=secret) == token

    # Never again: not on the token's page, not in the list.
    assert secret not in admin_client.get(url("orgs_apitoken_change", token.pk)).content.decode()
    assert secret not in admin_client.get(url("orgs_apitoken_changelist")).content.decode()


def test_the_add_token_message_names_the_new_token(admin_client, org):
    response = admin_client.post(
        url("orgs_apitoken_add"), {"org": org.pk, "name": "shop backend", "scopes": ["send"]}, follow=True
    )
    token = ApiToken.objects.get(name="shop backend")
    assert str(token) in [str(message) for message in response.context["messages"]][-1]


def test_a_token_with_no_scope_is_refused(admin_client, org):
    response = admin_client.post(url("orgs_apitoken_add"), {"org": org.pk, "name": "useless"})
    assert "scopes" in form_errors(response)
    assert not ApiToken.objects.exists()


def test_an_existing_token_changes_only_its_name(admin_client, org):
    token, secret = token_create(org=org, name="old name", scopes=["read"])
    response = admin_client.post(
        url("orgs_apitoken_change", token.pk), {"name": "new name", "scopes": ["send"], "prefix": "x"}
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.name == "new name"
    assert token.scopes == ["read"]
    assert token_authenticate(secret=secret) == token


def test_the_revoke_action_revokes_the_selected_tokens(admin_client, org):
    kept, kept_secret = token_create(org=org, name="kept")
    leaked, leaked_secret = token_create(org=org, name="leaked")
    response = admin_client.post(
        url("orgs_apitoken_changelist"), {"action": "revoke", "_selected_action": [leaked.pk]}, follow=True
    )
    assert response.status_code == 200
    leaked.refresh_from_db()
    kept.refresh_from_db()
    assert leaked.revoked_at is not None
    assert kept.revoked_at is None
    assert token_authenticate(secret=leaked_secret) is None
    assert token_authenticate(secret=kept_secret) == kept


# --- recipients -----------------------------------------------------------------------------------


@pytest.mark.parametrize("term", ["ada@example", "ADA@EXAMPLE.COM", "+4915112345678", "crm-1"])
def test_recipient_search_finds_by_email_phone_and_external_id(admin_client, org, term):
    ada = RecipientFactory(org=org, email="ada@example.com", phone="+4915112345678", external_id="crm-1")
    RecipientFactory(org=org, email="bob@example.org", phone="+4917000000000", external_id="crm-2")
    assert listed(admin_client.get(url("recipients_recipient_changelist"), {"q": term})) == [ada]


def recipient_data(org, **changes) -> dict:
    data = {"org": org.pk, "email": "Ada@Example.com", "phone": "", "external_id": "", "first_name": "Ada",
            "last_name": "Lovelace", "locale": "", "attributes": "{}"}  # fmt: skip
    return {**data, **changes}


def test_a_recipient_added_in_the_admin_is_stored_as_the_api_would(admin_client, org):
    response = admin_client.post(
        url("recipients_recipient_add"), recipient_data(org, phone="+49 (151) 1234-5678")
    )
    assert response.status_code == 302
    ada = Recipient.objects.get()
    assert ada.email == "ada@example.com"
    assert ada.phone == "+4915112345678"
    assert ada.external_id is None
    assert listed(admin_client.get(url("recipients_recipient_changelist"), {"q": "+4915112345678"})) == [ada]


def test_a_recipient_phone_that_is_no_number_is_refused(admin_client, org):
    response = admin_client.post(url("recipients_recipient_add"), recipient_data(org, phone="call me"))
    assert "phone" in form_errors(response)
    assert not Recipient.objects.exists()


def test_a_second_recipient_with_the_same_email_is_refused(admin_client, org, recipient):
    response = admin_client.post(
        url("recipients_recipient_add"), recipient_data(org, email="ADA@example.com")
    )
    assert form_errors(response)
    assert Recipient.objects.count() == 1


# --- mailings -------------------------------------------------------------------------------------


def test_the_mailing_page_previews_it_rendered_from_its_sample_context(admin_client, mailing):
    content = admin_client.get(url("mailings_mailing_change", mailing.pk)).content.decode()
    assert "Order 42 confirmed" in content
    assert "Hello Ada, your order 42 is confirmed." in content
    iframe = re.search(r"<iframe[^>]*>", content).group(0)
    assert 'sandbox=""' in iframe
    assert 'srcdoc="&lt;p&gt;Hello Ada, order &lt;b&gt;42&lt;/b&gt; is confirmed.&lt;/p&gt;"' in iframe
    assert url("sends_send_test", mailing.pk) in content


def test_the_preview_runs_none_of_the_mailings_markup_in_the_admin_page(admin_client, org):
    mailing = MailingFactory(
        org=org, text="Hi <script>alert('text')</script>", html="<script>alert('html')</script>",
        sample_context={"order_number": "<img src=x onerror=alert(1)>"},
    )  # fmt: skip
    content = admin_client.get(url("mailings_mailing_change", mailing.pk)).content.decode()
    assert "Hi &lt;script&gt;alert(&#x27;text&#x27;)&lt;/script&gt;" in content
    assert "<script>alert(" not in content
    assert "<img src=x" not in content
    assert 'srcdoc="&lt;script&gt;alert(&#x27;html&#x27;)&lt;/script&gt;"' in content


def test_a_template_error_in_a_saved_mailing_shows_in_the_preview(admin_client, org):
    broken = MailingFactory(org=org, text="Hello {% if %}")  # stored before any check, e.g. by a migration
    response = admin_client.get(url("mailings_mailing_change", broken.pk))
    assert response.status_code == 200
    assert "Template error in text" in response.content.decode()


def mailing_data(org, **changes) -> dict:
    data = {
        "org": org.pk, "name": "Order confirmation", "channel": "email", "from_email": "", "reply_to": "",
        "subject": "Order {{ context.order_number }}", "text": "Hello {{ recipient.first_name }}",
        "html": "<p>Hello</p>", "default_locale": "en", "translations": "{}", "context_schema": "",
        "sample_context": '{"order_number": 42}',
    }  # fmt: skip
    return {**data, **changes}


def test_a_mailing_is_added_in_the_admin(admin_client, org):
    translations = json.dumps({"de": {"subject": "Bestellung {{ context.order_number }}"}})
    response = admin_client.post(url("mailings_mailing_add"), mailing_data(org, translations=translations))
    assert response.status_code == 302
    mailing = Mailing.objects.get()
    assert mailing.translations == {"de": {"subject": "Bestellung {{ context.order_number }}"}}
    assert mailing.sample_context == {"order_number": 42}


@pytest.mark.parametrize("part", ["subject", "text", "html"])
def test_a_mailing_with_a_broken_template_is_refused_naming_the_part(admin_client, org, part):
    response = admin_client.post(url("mailings_mailing_add"), mailing_data(org, **{part: "Hi {% if %}"}))
    errors = form_errors(response)
    assert list(errors) == [part]
    assert "Template error" in errors[part][0]
    assert not Mailing.objects.exists()


def test_a_broken_template_is_refused_when_a_mailing_is_changed_too(admin_client, mailing):
    response = admin_client.post(
        url("mailings_mailing_change", mailing.pk), mailing_data(mailing.org, html="{% for %}")
    )
    assert "html" in form_errors(response)
    mailing.refresh_from_db()
    assert "{% for %}" not in mailing.html


def test_a_broken_translation_is_refused_naming_its_locale_and_part(admin_client, org):
    translations = json.dumps({"de": {"subject": "Bestellung", "text": "Hallo {% if %}"}})
    response = admin_client.post(url("mailings_mailing_add"), mailing_data(org, translations=translations))
    [error] = form_errors(response)["translations"]
    assert "de" in error and "text" in error and "Template error" in error
    assert not Mailing.objects.exists()


@pytest.mark.parametrize(
    "translations", ['["de"]', '{"de": "Hallo"}', '{"de": {"body": "Hallo"}}', '{"de": {"text": 1}}']
)
def test_translations_that_are_not_locales_of_parts_are_refused(admin_client, org, translations):
    response = admin_client.post(url("mailings_mailing_add"), mailing_data(org, translations=translations))
    assert "translations" in form_errors(response)
    assert not Mailing.objects.exists()


def test_a_mailing_in_use_keeps_its_channel(admin_client, campaign):
    mailing = campaign.email_mailing
    response = admin_client.post(
        url("mailings_mailing_change", mailing.pk), mailing_data(mailing.org, channel="sms")
    )
    assert "channel" in form_errors(response)
    mailing.refresh_from_db()
    assert mailing.channel == "email"


def test_an_invalid_context_schema_is_refused(admin_client, org):
    data = mailing_data(org, context_schema='{"type": "no such type"}')
    response = admin_client.post(url("mailings_mailing_add"), data)
    assert "context_schema" in form_errors(response)


# --- test sends -----------------------------------------------------------------------------------


def test_the_test_send_page_queues_a_send_to_the_given_address(admin_client, mailing):
    page = url("sends_send_test", mailing.pk)
    assert admin_client.get(page).status_code == 200
    response = admin_client.post(page, {"address": "qa@example.com"})
    send = Send.objects.get()
    assert response.status_code == 302
    assert response.url == url("sends_send_change", send.pk)
    assert send.status == Status.QUEUED
    assert send.metadata == {"test_send": True}
    assert send.to_address == "qa@example.com"
    assert send.mailing == mailing
    assert send.org == mailing.org
    assert send.context == {"order_number": 42}


def test_a_test_send_is_delivered_through_the_pipeline(
    admin_client, mailing, eager_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url("sends_send_test", mailing.pk), {"address": "qa@example.com"})
    send = Send.objects.get()
    assert send.status == Status.SENT
    [message] = mail.outbox
    assert message.to == ["qa@example.com"]
    assert message.subject == "Order 42 confirmed"
    assert send.subject == "Order 42 confirmed"


@pytest.mark.parametrize(
    ("make_mailing", "address"), [(MailingFactory, "not an address"), (SmsMailingFactory, "call me")]
)
def test_a_test_send_to_no_address_of_the_channel_is_refused(admin_client, org, make_mailing, address):
    mailing = make_mailing(org=org)
    response = admin_client.post(url("sends_send_test", mailing.pk), {"address": address})
    assert response.status_code == 200
    assert "address" in response.context["form"].errors
    assert not Send.objects.exists()


def test_an_sms_test_send_goes_to_the_normalized_number(admin_client, org):
    mailing = SmsMailingFactory(org=org)
    admin_client.post(url("sends_send_test", mailing.pk), {"address": "+49 151 1234 5678"})
    assert Send.objects.get().to_address == "+4915112345678"


def test_the_test_send_page_of_an_unknown_mailing_is_404(admin_client, db):
    assert admin_client.get(url("sends_send_test", 999999)).status_code == 404


# --- the send log ---------------------------------------------------------------------------------


def test_the_send_list_filters_by_status_campaign_channel_and_date(admin_client, org, campaign, make_send):
    other_campaign = CampaignFactory(org=org)
    failed = make_send(status=Status.FAILED)
    elsewhere = make_send(campaign=other_campaign, mailing=other_campaign.email_mailing, status=Status.SENT)
    sms = make_send(channel="sms", to_address="+4915112345678", status=Status.SENT)
    old = make_send(created_at=timezone.now() - timedelta(days=30), status=Status.SENT)
    changelist = url("sends_send_changelist")

    assert listed(admin_client.get(changelist, {"status__exact": "failed"})) == [failed]
    assert listed(admin_client.get(changelist, {"campaign__id__exact": other_campaign.pk})) == [elsewhere]
    assert listed(admin_client.get(changelist, {"channel__exact": "sms"})) == [sms]
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    past_week = {
        "created_at__gte": str(today - timedelta(days=7)),
        "created_at__lt": str(today + timedelta(days=1)),
    }
    assert old not in listed(admin_client.get(changelist, past_week))
    assert set(listed(admin_client.get(changelist, past_week))) == {failed, elsewhere, sms}


def test_the_send_list_searches_by_address_and_by_exact_ids(admin_client, make_send):
    ada = make_send(to_address="ada@example.com", provider_message_id="pm-123")
    bob = make_send(to_address="bob@example.org", provider_message_id="pm-1234")

    def search(term: str) -> list[Send]:
        return listed(admin_client.get(url("sends_send_changelist"), {"q": term}))

    assert search("ADA@example.com ") == [ada]
    assert search("ada@") == [], "exact matches only: a substring search would read the whole send log"
    assert search("example") == []
    assert search(str(bob.correlation_id)) == [bob]
    assert search(str(bob.correlation_id)[:8]) == []
    assert search("pm-123") == [ada]
    assert search("pm-12") == []


def test_the_send_page_shows_the_rendered_content_and_the_error(admin_client, make_send):
    send = make_send(
        status=Status.FAILED, subject="Order 42 confirmed", text="Hello Ada,\nyour order is confirmed.",
        html='<p onclick="steal()">Hi <script>alert(1)</script></p>',
        last_error="Provider says no: mailbox unavailable",
    )  # fmt: skip
    content = admin_client.get(url("sends_send_change", send.pk)).content.decode()
    assert "Order 42 confirmed" in content
    assert "Hello Ada," in content and "your order is confirmed." in content
    assert "Provider says no: mailbox unavailable" in content
    iframe = re.search(r"<iframe[^>]*>", content).group(0)
    assert 'sandbox=""' in iframe
    assert (
        'srcdoc="&lt;p onclick=&quot;steal()&quot;&gt;Hi &lt;script&gt;alert(1)&lt;/script&gt;&lt;/p&gt;"'
        in iframe
    )
    assert "<script>alert(1)" not in content


def test_a_send_cannot_be_edited_in_the_admin(admin_client, make_send):
    send = make_send(status=Status.FAILED, to_address="ada@example.com")
    change = url("sends_send_change", send.pk)
    assert 'name="_save"' not in admin_client.get(change).content.decode()
    response = admin_client.post(change, {"status": "sent", "to_address": "eve@example.com"})
    assert response.status_code == 403
    send.refresh_from_db()
    assert send.status == Status.FAILED
    assert send.to_address == "ada@example.com"


def test_the_send_log_cannot_be_deleted_from_the_admin(admin_client, make_send):
    send = make_send()
    assert admin_client.post(url("sends_send_delete", send.pk), {"post": "yes"}).status_code == 403
    response = admin_client.post(
        url("sends_send_changelist"),
        {"action": "delete_selected", "_selected_action": [send.pk], "post": "yes"},
    )
    assert Send.objects.filter(pk=send.pk).exists()
    assert response.status_code in (200, 302)


def test_retrigger_creates_linked_new_sends_through_the_service(admin_client, make_send, recipient):
    moved = make_send(status=Status.FAILED, recipient=recipient, to_address="old@example.com")
    sent = make_send(status=Status.SENT)
    untouched = make_send(status=Status.SENT)
    response = admin_client.post(
        url("sends_send_changelist"),
        {"action": "retrigger", "_selected_action": [moved.pk, sent.pk], "post": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    assert "Re-triggered 2 send(s)" in [str(message) for message in response.context["messages"]][0]

    new_sends = Send.objects.filter(retriggered_from__isnull=False)
    assert sorted(s.retriggered_from_id for s in new_sends) == sorted([moved.pk, sent.pk])
    assert {s.status for s in new_sends} == {Status.QUEUED}
    assert moved.retriggers.get().to_address == recipient.email  # the recipient's address today
    assert sent.retriggers.get().context == sent.context
    assert not untouched.retriggers.exists()
    moved.refresh_from_db()
    assert moved.status == Status.FAILED


def test_retriggered_sends_are_delivered(
    admin_client, make_send, eager_tasks, django_capture_on_commit_callbacks
):
    original = make_send(status=Status.FAILED)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            url("sends_send_changelist"),
            {"action": "retrigger", "_selected_action": [original.pk], "post": "yes"},
        )
    assert original.retriggers.get().status == Status.SENT
    assert [m.to for m in mail.outbox] == [[original.to_address]]


# --- campaigns ------------------------------------------------------------------------------------


def campaign_data(org, **changes) -> dict:
    data = {"org": org.pk, "key": "welcome", "name": "Welcome", "status": "active", "email_mailing": "",
            "sms_mailing": "", "delay_seconds": "0", "cap_scope": "campaign",
            "kind": "transactional"}  # fmt: skip
    return {**data, **changes}


def test_a_campaign_is_added_in_the_admin(admin_client, mailing):
    response = admin_client.post(
        url("campaigns_campaign_add"), campaign_data(mailing.org, email_mailing=mailing.pk)
    )
    assert response.status_code == 302
    assert Campaign.objects.get().email_mailing == mailing


def test_a_campaign_cannot_send_another_orgs_mailing(admin_client, org):
    foreign = MailingFactory(org=OrgFactory(name="Another shop"))
    response = admin_client.post(url("campaigns_campaign_add"), campaign_data(org, email_mailing=foreign.pk))
    assert "email_mailing" in form_errors(response)
    assert not Campaign.objects.exists()


def test_a_campaign_cannot_send_an_sms_mailing_as_its_email(admin_client, org):
    sms = SmsMailingFactory(org=org)
    response = admin_client.post(url("campaigns_campaign_add"), campaign_data(org, email_mailing=sms.pk))
    assert "email_mailing" in form_errors(response)


def test_the_mailing_autocomplete_offers_only_mailings_of_the_fields_channel(admin_client, org):
    email = MailingFactory(org=org)
    SmsMailingFactory(org=org)
    response = admin_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "campaigns", "model_name": "campaign", "field_name": "email_mailing", "term": ""},
    )
    assert [int(r["id"]) for r in response.json()["results"]] == [email.pk]
