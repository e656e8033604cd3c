"""An org's own ESP account posts its delivery events to its own URL with its own secret (made by Herald,
shown once, stored hashed): Anymail's real view for its kind parses them, and they move only its org's
sends. The server's ANYMAIL_WEBHOOK_SECRET is never an org's to know, and opens nothing of an org's."""

import dataclasses

import pytest
from django.urls import reverse
from django.utils import timezone

from orgs.models import AuditEntry, IdempotentRequest
from providers.models import Provider
from providers.services import provider_create
from sends.models import DeliveryEvent, Send
from suppressions.models import Suppression
from tests.conftest import api_client_for
from tests.factories import CampaignFactory, RecipientFactory
from tests.provider_events.providers import (
    ANYMAIL_SETTINGS,
    MAILGUN_SIGNING_KEY,
    MESSAGE_IDS,
    WEBHOOK_SECRET,
    brevo,
    mailgun,
    postmark,
    sendgrid,
)
from tests.providers.test_providers import admin_of, provider_form

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
]
ADDRESS = "ada@example.com"
# A public key (any will do: what it signs is not what the org's account posts), as SendGrid gives one.
SERVER_SENDGRID_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEh+o5aT4Dnij/TlWeDfusJ9nuxDoqqpq3LmzGQCdMhd//TrGrVlUQqFAbDWU7QJzE4tJEeY3O"
    "+pQEUJ+hLGYU0A=="
)
T0 = 1714557600
BUILDERS = {"postmark": postmark, "sendgrid": sendgrid, "mailgun": mailgun, "brevo": brevo}
ESP_NAMES = {"postmark": "Postmark", "sendgrid": "SendGrid", "mailgun": "Mailgun", "brevo": "Brevo"}
CREDENTIALS = {
    "postmark": {"server_token": "org-token"},
    "sendgrid": {"api_key": "org-key"},
    "mailgun": {"api_key": "org-key", "webhook_signing_key": MAILGUN_SIGNING_KEY},
    "brevo": {"api_key": "org-key"},
}


@pytest.fixture(autouse=True)
def _server_webhook_secret(settings):
    settings.ANYMAIL = ANYMAIL_SETTINGS  # the operator's account, on Anymail's own URLs
    settings.HERALD_PROVIDER_ALLOW_PRIVATE_NETWORKS = True  # no name lookups for the SMTP host


def account(org, kind: str = "postmark", **credentials) -> Provider:
    return provider_create(
        org=org, actor=None, kind=kind, name=f"Our {kind}", credentials=credentials or CREDENTIALS[kind]
    )


def sent(org, provider: Provider | None, kind: str = "postmark") -> Send:
    """A send that went out on `provider` (None: the server's own) under the ESP's message id."""
    campaign = CampaignFactory(org=org)
    return Send.objects.create(
        org=org, campaign=campaign, mailing=campaign.email_mailing,
        recipient=RecipientFactory(org=org, email=ADDRESS), channel="email", to_address=ADDRESS,
        status=Send.Status.SENT, sent_at=timezone.now(), provider_message_id=MESSAGE_IDS[ESP_NAMES[kind]],
        provider=provider.name if provider else "",
    )  # fmt: skip


def post(client, provider: Provider, event: str, auth: str, kind: str = "postmark"):
    webhook = BUILDERS[kind](event, message_id=MESSAGE_IDS[ESP_NAMES[kind]], address=ADDRESS, at=T0)
    return dataclasses.replace(webhook, path=f"/anymail/providers/{provider.pk}/tracking/").post(client, auth)


@pytest.mark.parametrize("kind", BUILDERS)
def test_an_orgs_account_posts_its_events_with_its_own_secret_and_they_move_its_send(client, org, kind):
    provider = account(org, kind)
    send = sent(org, provider, kind)
    assert post(client, provider, "bounced", provider.tracking_secret, kind).status_code == 200
    send.refresh_from_db()
    assert send.status == Send.Status.BOUNCED
    event = DeliveryEvent.objects.get()
    assert (event.send_id, event.org_id, event.esp_name) == (send.pk, org.pk, ESP_NAMES[kind])
    assert Suppression.objects.get(org=org, address=ADDRESS).reason == Suppression.Reason.BOUNCED


def test_its_url_takes_neither_the_servers_secret_nor_another_accounts(client, org, other_org):
    provider, theirs = account(org), account(other_org)
    send = sent(org, provider)
    for wrong in (WEBHOOK_SECRET, theirs.tracking_secret, "herald:guessed", ""):
        response = post(client, provider, "bounced", wrong)
        assert response.status_code == 401, wrong
        assert response["WWW-Authenticate"].startswith("Basic")
    assert not DeliveryEvent.objects.exists()
    send.refresh_from_db()
    assert send.status == Send.Status.SENT


def test_a_mailgun_account_checks_the_signature_with_its_own_signing_key(client, org):
    provider = account(org, "mailgun", api_key="org-key", webhook_signing_key="another-signing-key")
    sent(org, provider, "mailgun")
    # Basic auth is right, the signature (made with MAILGUN_SIGNING_KEY) is not this account's.
    assert post(client, provider, "delivered", provider.tracking_secret, "mailgun").status_code == 400
    assert not DeliveryEvent.objects.exists()


def test_its_events_cannot_move_another_orgs_send(client, org, other_org):
    provider = account(org)
    theirs = sent(other_org, None)  # the other org's send, under the same message id
    assert post(client, provider, "bounced", provider.tracking_secret).status_code == 200
    theirs.refresh_from_db()
    assert theirs.status == Send.Status.SENT
    event = DeliveryEvent.objects.get()
    assert (event.send, event.org) == (None, org), "kept as the posting org's, matching none of its sends"
    assert not Suppression.objects.filter(org=other_org).exists()


def test_an_orgs_events_take_no_dedupe_key_from_another_account(client, org, other_org):
    # The same event posted by another org's account first: this org's is still stored, and applied.
    mine, theirs = account(org), account(other_org)
    assert post(client, theirs, "bounced", theirs.tracking_secret).status_code == 200
    send = sent(org, mine)
    assert post(client, mine, "bounced", mine.tracking_secret).status_code == 200
    send.refresh_from_db()
    assert send.status == Send.Status.BOUNCED
    assert DeliveryEvent.objects.filter(org=org, send=send).count() == 1


def test_a_sendgrid_account_is_not_checked_with_the_servers_signing_key(client, org, settings):
    # The operator signs their own SendGrid account's webhooks; an org's account is checked by its secret.
    settings.ANYMAIL = {**ANYMAIL_SETTINGS, "SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY": SERVER_SENDGRID_KEY}
    provider = account(org, "sendgrid")
    send = sent(org, provider, "sendgrid")
    assert post(client, provider, "delivered", provider.tracking_secret, "sendgrid").status_code == 200
    send.refresh_from_db()
    assert send.status == Send.Status.DELIVERED


def test_a_head_without_credentials_is_answered_and_an_unknown_id_looks_like_a_wrong_secret(client, org):
    provider = account(org)
    assert client.head(f"/anymail/providers/{provider.pk}/tracking/").status_code == 200
    assert post(client, provider, "bounced", "herald:wrong").status_code == 401
    unknown = Provider(pk=provider.pk + 1000, kind="postmark")
    assert post(client, unknown, "bounced", provider.tracking_secret).status_code == 401


def test_the_servers_webhook_cannot_move_a_send_an_orgs_own_account_sent(client, org):
    # Whoever holds the operator's secret speaks for the operator's account, not for the org's.
    provider = account(org)
    send = sent(org, provider)
    webhook = postmark("bounced", message_id=MESSAGE_IDS["Postmark"], address=ADDRESS, at=T0)
    assert webhook.post(client).status_code == 200
    send.refresh_from_db()
    assert send.status == Send.Status.SENT
    assert not Suppression.objects.exists()


def test_a_secret_is_never_stored_with_an_idempotent_answer(org):
    api = _api(org)
    body = {"kind": "postmark", "name": "Postmark EU", "credentials": {"server_token": "t"}}
    first = api.post("/api/v1/providers/", body, format="json", HTTP_IDEMPOTENCY_KEY="add-pm")
    secret = first.json()["tracking_secret"]
    assert secret
    replayed = api.post("/api/v1/providers/", body, format="json", HTTP_IDEMPOTENCY_KEY="add-pm")
    assert replayed["Idempotent-Replayed"] == "true"
    assert replayed.json()["tracking_secret"] is None and replayed.json()["id"] == first.json()["id"]
    stored = " ".join(str(body) for body in IdempotentRequest.objects.values_list("body", flat=True))
    assert secret.partition(":")[2] not in stored
    pk = first.json()["id"]
    renewed = api.post(f"/api/v1/providers/{pk}/tracking_secret/", HTTP_IDEMPOTENCY_KEY="renew-1")
    assert renewed.json()["tracking_secret"]
    stored = " ".join(str(body) for body in IdempotentRequest.objects.values_list("body", flat=True))
    assert renewed.json()["tracking_secret"].partition(":")[2] not in stored


def test_a_new_secret_replaces_the_old_one_and_is_shown_only_in_its_answer(client, org):
    api = _api(org)
    created = api.post(
        "/api/v1/providers/",
        {"kind": "postmark", "name": "Postmark EU", "credentials": {"server_token": "t"}},
        format="json",
    )
    assert created.status_code == 201, created.content
    first = created.json()["tracking_secret"]
    pk = created.json()["id"]
    assert created.json()["tracking_url"] == f"http://127.0.0.1:8000/anymail/providers/{pk}/tracking/"
    assert api.get(f"/api/v1/providers/{pk}/").json()["tracking_secret"] is None
    renewed = api.post(f"/api/v1/providers/{pk}/tracking_secret/")
    assert renewed.status_code == 200
    second = renewed.json()["tracking_secret"]
    assert second.startswith("herald:") and second != first
    provider = Provider.objects.get(pk=pk)
    sent(org, provider)
    assert post(client, provider, "delivered", first).status_code == 401
    assert post(client, provider, "delivered", second).status_code == 200
    stored = str(Provider.objects.filter(pk=pk).values().get())
    logged = " ".join(AuditEntry.objects.values_list("summary", flat=True))
    for secret in (first, second):
        assert secret.partition(":")[2] not in stored + logged


def test_another_orgs_provider_gets_no_new_secret(org, other_org):
    theirs = account(other_org)
    before = theirs.tracking_secret_hash
    assert _api(org).post(f"/api/v1/providers/{theirs.pk}/tracking_secret/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.tracking_secret_hash == before


def test_a_kind_that_posts_no_webhooks_has_no_tracking_url_or_secret(client, org):
    smtp = provider_create(
        org=org, actor=None, kind="smtp", name="Relay", options={"host": "smtp.example.com"},
        credentials={"password": "p"},
    )  # fmt: skip
    api = _api(org)
    shown = api.get(f"/api/v1/providers/{smtp.pk}/").json()
    assert (shown["tracking_url"], shown["tracking_secret"]) == (None, None)
    refused = api.post(f"/api/v1/providers/{smtp.pk}/tracking_secret/")
    assert refused.status_code == 400
    assert refused.json()["error"]["problems"][0]["field"] == "kind"
    webhook = client.post(f"/anymail/providers/{smtp.pk}/tracking/", "{}", content_type="application/json")
    assert webhook.status_code == 401, "as any id that takes no events"


def _api(org):
    return api_client_for(org, scopes=["providers"])


def test_the_admin_shows_a_new_accounts_tracking_url_with_its_secret_once(client, org):
    admin_of(client, org)
    added = client.post(reverse("admin:providers_provider_add"), provider_form(org), follow=True)
    provider = Provider.objects.get()
    [shown] = [str(m) for m in added.context["messages"] if "tracking webhook URL" in str(m)]
    secret = shown.split("http://")[1].split("@")[0]
    assert shown.endswith(f"@127.0.0.1:8000/anymail/providers/{provider.pk}/tracking/")
    send = sent(org, provider)
    assert post(client, provider, "delivered", secret).status_code == 200
    page = client.get(reverse("admin:providers_provider_change", args=[provider.pk])).content.decode()
    assert f"/anymail/providers/{provider.pk}/tracking/" in page and secret.partition(":")[2] not in page
    renewed = client.post(
        reverse("admin:providers_provider_changelist"),
        {"action": "tracking_secret_new", "_selected_action": [provider.pk]},
        follow=True,
    )
    [shown] = [str(m) for m in renewed.context["messages"] if "tracking webhook URL" in str(m)]
    assert secret not in shown
    assert post(client, provider, "bounced", secret).status_code == 401
    send.refresh_from_db()
    assert send.status == Send.Status.DELIVERED
