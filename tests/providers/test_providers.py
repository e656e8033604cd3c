"""An org's provider accounts (#19): managed through the API (its own scope) and the admin, credentials
encrypted at rest and never shown again, audited without them, another org's a 404, and a test message
sent through Anymail's real Postmark backend to a local stand-in of Postmark's API."""

import json

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from orgs.models import AuditEntry, Membership
from providers import secrets
from providers.models import Provider
from providers.services import provider_create
from tests.conftest import api_client_for
from tests.factories import MembershipFactory
from tests.providers.postmark import Postmark

pytestmark = pytest.mark.django_db
TOKEN = "pm-server-token-4c1d"
POSTMARK = {"kind": "postmark", "name": "Postmark EU", "credentials": {"server_token": TOKEN}}


@pytest.fixture
def papi(org):
    return api_client_for(org, scopes=["providers"])


@pytest.fixture
def standin(settings):
    settings.HERALD_PROVIDER_ALLOW_PRIVATE_NETWORKS = True
    settings.ANYMAIL = {**settings.ANYMAIL, "POSTMARK_SERVER_TOKEN": "the-servers-own-token"}
    server = Postmark()
    yield server, server.url
    server.stop()


def stored_column(provider: Provider) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials_encrypted FROM providers_provider WHERE id = %s", [provider.pk])
        return cursor.fetchone()[0]


def test_a_provider_is_added_and_its_credentials_never_come_back(papi):
    response = papi.post("/api/v1/providers/", POSTMARK, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["channel"] == "email" and body["position"] == 0
    assert body["credentials_set"] == ["server_token"]
    assert TOKEN not in response.content.decode()
    listed = papi.get("/api/v1/providers/")
    detail = papi.get(f"/api/v1/providers/{body['id']}/")
    for answer in (listed, detail):
        assert answer.status_code == 200
        assert TOKEN not in answer.content.decode()
    provider = Provider.objects.get()
    assert TOKEN not in stored_column(provider), "stored encrypted, not as typed"
    assert provider.credentials == {"server_token": TOKEN}


def test_the_audit_log_says_what_changed_never_the_credentials(papi):
    pk = papi.post("/api/v1/providers/", POSTMARK, format="json").json()["id"]
    papi.patch(f"/api/v1/providers/{pk}/", {"credentials": {"server_token": "new-secret-99"}}, format="json")
    papi.patch(f"/api/v1/providers/{pk}/", {"enabled": False}, format="json")
    entries = list(
        AuditEntry.objects.filter(action__startswith="provider.")
        .order_by("id")
        .values_list("action", "summary")
    )
    assert [action for action, _ in entries] == ["provider.created", "provider.changed", "provider.changed"]
    assert "credentials replaced" in entries[1][1] and "enabled" in entries[2][1]
    assert not any(secret in summary for _, summary in entries for secret in (TOKEN, "new-secret-99"))
    provider = Provider.objects.get()
    assert provider.credentials == {"server_token": "new-secret-99"} and not provider.enabled


def test_a_change_without_credentials_keeps_the_stored_ones(papi):
    pk = papi.post("/api/v1/providers/", POSTMARK, format="json").json()["id"]
    assert papi.patch(f"/api/v1/providers/{pk}/", {"name": "Postmark EU 2"}, format="json").status_code == 200
    assert Provider.objects.get().credentials == {"server_token": TOKEN}


def test_the_providers_scope_is_needed_and_the_default_token_lacks_it(api, papi):
    assert api.get("/api/v1/providers/").status_code == 403
    assert api.post("/api/v1/providers/", POSTMARK, format="json").status_code == 403
    assert papi.get("/api/v1/providers/").status_code == 200
    assert Provider.objects.count() == 0


def test_another_orgs_provider_is_a_404_and_never_listed(papi, other_org):
    theirs = provider_create(org=other_org, actor=None, **POSTMARK)
    assert papi.get(f"/api/v1/providers/{theirs.pk}/").status_code == 404
    assert papi.patch(f"/api/v1/providers/{theirs.pk}/", {"enabled": False}, format="json").status_code == 404
    assert papi.delete(f"/api/v1/providers/{theirs.pk}/").status_code == 404
    assert papi.get("/api/v1/providers/").json()["results"] == []
    theirs.refresh_from_db()
    assert theirs.enabled


@pytest.mark.parametrize(
    "body, field",
    [
        ({**POSTMARK, "kind": "pigeon"}, "kind"),
        ({**POSTMARK, "credentials": {}}, "credentials.server_token"),
        ({**POSTMARK, "credentials": {"server_token": "a\r\nb"}}, "credentials.server_token"),
        ({**POSTMARK, "credentials": {"server_token": "x", "password": "y"}}, "credentials.password"),
        ({**POSTMARK, "channel": "sms"}, "channel"),
        ({**POSTMARK, "options": {"region": "eu"}}, "options.region"),
        ({**POSTMARK, "options": {"api_url": "http://169.254.169.254/latest/"}}, "options.api_url"),
        ({**POSTMARK, "options": {"api_url": "http://127.0.0.1:8025/"}}, "options.api_url"),
        ({"kind": "smtp", "name": "Relay", "credentials": {"password": "p"}, "options": {"host": "10.0.0.5"}},
         "options.host"),
        ({"kind": "smtp", "name": "Relay", "credentials": {"password": "p"}, "options": {"use_tls": "yes"}},
         "options.use_tls"),
    ],
)  # fmt: skip
def test_a_bad_provider_is_a_400_naming_the_field_and_stores_nothing(papi, body, field):
    response = papi.post("/api/v1/providers/", body, format="json")
    assert response.status_code == 400
    assert field in {p["field"] for p in response.json()["error"]["problems"]}, response.json()
    assert TOKEN not in response.content.decode()
    assert Provider.objects.count() == 0
    assert not AuditEntry.objects.filter(action__startswith="provider.").exists()


def test_kind_and_channel_cannot_be_changed(papi):
    pk = papi.post("/api/v1/providers/", POSTMARK, format="json").json()["id"]
    response = papi.patch(f"/api/v1/providers/{pk}/", {"kind": "sendgrid"}, format="json")
    assert response.status_code == 400
    assert Provider.objects.get().kind == "postmark"


def test_providers_are_tried_in_the_order_given(papi, org):
    first = provider_create(org=org, actor=None, **POSTMARK)
    second = provider_create(
        org=org, actor=None, kind="sendgrid", name="SendGrid", credentials={"api_key": "k"}
    )
    assert [first.position, second.position] == [0, 1]
    response = papi.post(
        "/api/v1/providers/reorder/", {"channel": "email", "order": [second.pk, first.pk]}, format="json"
    )
    assert response.status_code == 200
    assert [p["name"] for p in response.json()] == ["SendGrid", "Postmark EU"]
    assert list(org.providers.values_list("name", flat=True)) == ["SendGrid", "Postmark EU"]
    partial = papi.post(
        "/api/v1/providers/reorder/", {"channel": "email", "order": [first.pk]}, format="json"
    )
    assert partial.status_code == 400


def test_a_key_is_rotated_without_losing_a_credential(settings, org):
    old = Fernet.generate_key().decode()
    settings.HERALD_PROVIDER_KEYS = [old]
    provider = provider_create(org=org, actor=None, **POSTMARK)
    new = Fernet.generate_key().decode()
    settings.HERALD_PROVIDER_KEYS = [new, old]
    call_command("provider_keys_rotate")
    settings.HERALD_PROVIDER_KEYS = [new]  # the old key gone: everything still opens
    provider.refresh_from_db()
    assert provider.credentials == {"server_token": TOKEN}
    settings.HERALD_PROVIDER_KEYS = [old]
    with pytest.raises(secrets.Undecryptable):
        Provider.objects.get().credentials  # noqa: B018


# --- the admin ------------------------------------------------------------------------------------


def admin_of(client, org):
    user = MembershipFactory(org=org, role=Membership.Role.ADMIN, user__email="ops@example.com").user
    client.force_login(user)
    return client


def provider_form(org, **changes) -> dict:
    data = {"org": org.pk, "channel": "email", "kind": "postmark", "name": "Postmark EU", "position": "0",
            "enabled": "on", "max_in_flight": "0", "per_second": "0", "options": "{}",
            "credentials": json.dumps({"server_token": TOKEN})}  # fmt: skip
    return {**data, **changes}


def test_an_org_admin_adds_a_provider_in_the_admin_and_never_sees_its_credentials_again(client, org):
    admin_of(client, org)
    response = client.post(reverse("admin:providers_provider_add"), provider_form(org))
    assert response.status_code == 302
    provider = Provider.objects.get()
    assert provider.credentials == {"server_token": TOKEN}
    page = client.get(reverse("admin:providers_provider_change", args=[provider.pk]))
    assert page.status_code == 200 and TOKEN not in page.content.decode()
    assert TOKEN not in client.get(reverse("admin:providers_provider_changelist")).content.decode()
    # Saved again with the credentials left empty: kept.
    client.post(
        reverse("admin:providers_provider_change", args=[provider.pk]),
        provider_form(org, credentials="", name="PM"),
    )
    provider.refresh_from_db()
    assert provider.name == "PM" and provider.credentials == {"server_token": TOKEN}


def test_the_admin_form_refuses_bad_credentials_naming_them(client, org):
    admin_of(client, org)
    response = client.post(reverse("admin:providers_provider_add"), provider_form(org, credentials="{}"))
    assert response.status_code == 200
    assert "credentials.server_token" in str(response.context["adminform"].form.errors)
    assert Provider.objects.count() == 0


def test_another_orgs_provider_is_a_404_in_the_admin(client, org, other_org):
    theirs = provider_create(org=other_org, actor=None, **POSTMARK)
    admin_of(client, org)
    assert client.get(reverse("admin:providers_provider_change", args=[theirs.pk])).status_code == 404
    assert "Postmark EU" not in client.get(reverse("admin:providers_provider_changelist")).content.decode()


def test_a_marketer_does_not_see_providers(client, org):
    user = MembershipFactory(org=org, role=Membership.Role.MARKETER).user
    client.force_login(user)
    assert client.get(reverse("admin:providers_provider_changelist")).status_code == 403


def test_a_test_message_goes_through_that_provider_alone(client, org, standin):
    server, url = standin
    provider = provider_create(org=org, actor=None, options={"api_url": url}, **POSTMARK)
    admin_of(client, org)
    changelist = reverse("admin:providers_provider_changelist")
    asked = client.post(changelist, {"action": "send_test", "_selected_action": [provider.pk]})
    assert asked.status_code == 200 and not server.received, "it asks where to first"
    assert asked.context["form"]["email"].value() == "ops@example.com"
    response = client.post(
        changelist,
        {"action": "send_test", "_selected_action": [provider.pk], "post": "yes", "email": "ops@example.com"},
        follow=True,
    )
    shown = [str(m) for m in response.context["messages"]]
    assert any("Postmark EU took a test to ops@example.com" in m for m in shown), shown
    [request] = server.received
    assert request["path"] == "/email"
    assert request["token"] == TOKEN, "the org's account, not the server's"
    assert request["To"] == "ops@example.com"
    assert AuditEntry.objects.filter(action="provider.tested").count() == 1
