import base64
import json

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from orgs.models import ApiToken, Org, hash_token
from orgs.services import token_create, token_revoke
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db


def test_a_token_is_stored_only_as_its_hash(org):
    token, secret = token_create(org=org, name="shop backend")
    assert secret.startswith("hrld_")
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.hashed == hash_token(secret)
    assert secret not in json.dumps(list(ApiToken.objects.values()), default=str)


def test_create_org_prints_the_token_once_as_json(capsys):
    call_command("create_org", "Acme", "--json")
    out = json.loads(capsys.readouterr().out)
    org = Org.objects.get(pk=out["org_id"])
    assert org.name == "Acme"
    token = org.tokens.get()
    assert token.hashed == hash_token(out["token"])
    assert sorted(token.scopes) == sorted(ApiToken.DEFAULT_SCOPES)
    assert "providers" not in token.scopes, "where the org's mail goes is a scope asked for by name"


def test_create_org_without_json_names_the_org_and_token(capsys):
    call_command("create_org", "Acme")
    out = capsys.readouterr().out
    assert "Created org" in out and "hrld_" in out


def test_a_request_without_a_token_is_401_in_the_error_envelope(db):
    response = APIClient().get("/api/v1/sends/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_token_is_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer hrld_not-a-real-token")
    response = client.get("/api/v1/sends/")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "The API token is not valid."


def test_a_revoked_token_is_401(org):
    token, secret = token_create(org=org, name="old")
    token_revoke(token=token)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get("/api/v1/sends/").status_code == 401


def test_basic_auth_with_the_token_as_password_works(org):
    _, secret = token_create(org=org, name="basic")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{org.id}:{secret}".encode()).decode())
    assert client.get("/api/v1/sends/").status_code == 200


@pytest.mark.parametrize(
    ("scopes", "method", "path", "expected"),
    [
        (["send"], "get", "/api/v1/sends/", 403),
        (["read"], "get", "/api/v1/sends/", 200),
        (["read"], "post", "/api/v1/mailings/", 403),
        (["manage"], "post", "/api/v1/mailings/", 400),
        (["read", "manage"], "post", "/api/v1/campaigns/order-completed/trigger/", 403),
    ],
)
def test_a_token_without_the_scope_is_403(org, campaign, scopes, method, path, expected):
    client = api_client_for(org, scopes=scopes)
    response = getattr(client, method)(path, {}, format="json")
    assert response.status_code == expected
    if expected == 403:
        assert "scope" in response.json()["error"]["message"]


def test_using_a_token_records_when_it_was_last_used(org):
    token, secret = token_create(org=org, name="t")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    client.get("/api/v1/sends/")
    token.refresh_from_db()
    assert token.last_used_at is not None
